//! `locust-k8s-operator`: the command line. Parses, dispatches, sets the exit code.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use locust_operator::api::crd::locust_test_crd;
use locust_operator::api::validation::{Report, validate_documents};
use locust_operator::manifests;
use locust_operator::operator::{self, RunArgs};

#[derive(Parser)]
#[command(
    name = "locust-k8s-operator",
    version,
    about = "Runs distributed Locust load tests on Kubernetes"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the operator.
    Run(Box<RunArgs>),
    /// Write every generated artifact (CRD, samples, ...) from the Rust source.
    Generate {
        /// Do not write: list the files that differ and exit 1 if any does.
        #[arg(long)]
        check: bool,
        /// Repository root to write into.
        #[arg(long, default_value = ".")]
        root: PathBuf,
    },
    /// Print the LocustTest CustomResourceDefinition (both versions) as YAML.
    Crd,
    /// Check LocustTest manifests offline with the rules the API server enforces.
    Validate {
        /// Files to check (multi-document YAML or JSON); `-` reads standard input.
        #[arg(short = 'f', long = "filename", required = true, num_args = 1..)]
        files: Vec<String>,
    },
    /// Show the result of a LocustTest and write its HTML report (also `kubectl locust report`
    /// when installed as `kubectl-locust`).
    Report(locust_operator::report::ReportArgs),
    /// Forward a local port to the master's web UI through the API server and print its URL
    /// (also `kubectl locust ui` when installed as `kubectl-locust`). Runs until stopped.
    Ui(locust_operator::ui::UiArgs),
    /// Print the version.
    Version,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run(args) => run(*args),
        Command::Generate { check, root } => generate(&root, check),
        Command::Crd => crd(),
        Command::Validate { files } => validate(&files),
        Command::Report(args) => report(&args),
        Command::Ui(args) => ui(&args),
        Command::Version => {
            println!("locust-k8s-operator {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
    }
}

fn crd() -> ExitCode {
    let crd = match locust_test_crd() {
        Ok(crd) => crd,
        Err(error) => {
            eprintln!("cannot build the CRD: {error}");
            return ExitCode::FAILURE;
        }
    };
    match manifests::to_yaml(&crd) {
        Ok(yaml) => {
            print!("{yaml}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("cannot render the CRD: {error}");
            ExitCode::FAILURE
        }
    }
}

/// The async runtime of a command (one thread unless `multi_thread`); `None`, said on standard
/// error, when it cannot start.
fn runtime(multi_thread: bool) -> Option<tokio::runtime::Runtime> {
    let mut builder = if multi_thread {
        tokio::runtime::Builder::new_multi_thread()
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    builder
        .enable_all()
        .build()
        .inspect_err(|error| eprintln!("cannot start the async runtime: {error}"))
        .ok()
}

fn report(args: &locust_operator::report::ReportArgs) -> ExitCode {
    let Some(runtime) = runtime(false) else {
        return ExitCode::FAILURE;
    };
    match runtime.block_on(locust_operator::report::run(args)) {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

fn ui(args: &locust_operator::ui::UiArgs) -> ExitCode {
    let Some(runtime) = runtime(true) else {
        return ExitCode::FAILURE;
    };
    let forwarding = locust_operator::ui::run(args, |url, target| {
        println!("{url}");
        eprintln!(
            "Forwarding {url} to port {} of pod {}/{} (Ctrl-C to stop)",
            target.port, target.namespace, target.pod
        );
    });
    let result = runtime.block_on(async {
        tokio::select! {
            result = forwarding => result,
            _ = tokio::signal::ctrl_c() => Ok(()),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: RunArgs) -> ExitCode {
    // The CRD the validator reads is built on the first validation, not here: an idle operator
    // does not hold it. A CRD that cannot be built fails that test's validation
    // with the reason; unit tests in api::crd keep it buildable.
    let Some(runtime) = runtime(true) else {
        return ExitCode::FAILURE;
    };
    match runtime.block_on(operator::run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("locust-k8s-operator: {error}");
            ExitCode::FAILURE
        }
    }
}

fn generate(root: &std::path::Path, check: bool) -> ExitCode {
    if check {
        match manifests::check(root) {
            Ok(drift) if drift.is_clean() => ExitCode::SUCCESS,
            Ok(drift) => {
                for path in &drift.changed {
                    eprintln!("differs:    {}", path.display());
                }
                for path in &drift.missing {
                    eprintln!("missing:    {}", path.display());
                }
                for path in &drift.unexpected {
                    eprintln!("unexpected: {}", path.display());
                }
                eprintln!("generated files are out of date: run `locust-k8s-operator generate`");
                ExitCode::FAILURE
            }
            Err(error) => {
                eprintln!("cannot check generated files: {error}");
                ExitCode::FAILURE
            }
        }
    } else {
        match manifests::write(root) {
            Ok(written) => {
                for path in written {
                    eprintln!("wrote {}", path.display());
                }
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("cannot write generated files: {error}");
                ExitCode::FAILURE
            }
        }
    }
}

fn validate(files: &[String]) -> ExitCode {
    if let Err(error) = locust_test_crd() {
        eprintln!("cannot build the CRD whose rules the files are checked against: {error}");
        return ExitCode::FAILURE;
    }
    let mut total = Report::default();
    for file in files {
        let (text, source) = if file == "-" {
            let mut text = String::new();
            if let Err(error) = std::io::stdin().read_to_string(&mut text) {
                eprintln!("cannot read standard input: {error}");
                return ExitCode::FAILURE;
            }
            (text, "<stdin>".to_string())
        } else {
            match std::fs::read_to_string(file) {
                Ok(text) => (text, file.clone()),
                Err(error) => {
                    eprintln!("{file}: cannot read: {error}");
                    return ExitCode::FAILURE;
                }
            }
        };
        let report = validate_documents(&text, &source);
        total.checked += report.checked;
        total.skipped += report.skipped;
        total.problems.extend(report.problems);
    }
    for problem in &total.problems {
        println!("{problem}");
    }
    eprintln!(
        "checked {} LocustTest object(s), skipped {} other document(s): {} problem(s)",
        total.checked,
        total.skipped,
        total.problems.len()
    );
    if total.problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
