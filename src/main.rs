fn main() {
    let a = locust_operator::api::crd::locust_test_crd();
    println!("{}", serde_yaml::to_string(&a).unwrap_or_default());
}
