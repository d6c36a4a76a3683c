//! Pure builders: (LocustTest, Config) -> the master Service, master Job and worker Job.
