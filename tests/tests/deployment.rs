//! compose.yaml and the Dockerfile describe a working production-like setup.
//! No Docker engine runs here, so these check the files' content.

use serde_norway::Value;

fn compose() -> Value {
    serde_norway::from_str(include_str!("../../compose.yaml")).expect("compose.yaml is YAML")
}

#[test]
fn compose_runs_incidex_against_a_healthy_postgres() {
    let compose = compose();
    let services = &compose["services"];
    let db = &services["db"];
    assert!(
        db["image"]
            .as_str()
            .expect("db image")
            .starts_with("postgres:")
    );
    assert!(
        db["healthcheck"]["test"].is_sequence(),
        "db has a healthcheck"
    );
    assert!(db["volumes"].is_sequence(), "db data is on a volume");
    let user = db["environment"]["POSTGRES_USER"].as_str().expect("user");
    let password = db["environment"]["POSTGRES_PASSWORD"]
        .as_str()
        .expect("password");
    let database = db["environment"]["POSTGRES_DB"].as_str().expect("db name");

    let incidex = &services["incidex"];
    assert_eq!(incidex["build"].as_str(), Some("."));
    assert_eq!(
        incidex["depends_on"]["db"]["condition"].as_str(),
        Some("service_healthy")
    );
    let env = &incidex["environment"];
    assert_eq!(
        env["INCIDEX_DATABASE_URL"].as_str(),
        Some(format!("postgres://{user}:{password}@db:5432/{database}").as_str()),
        "incidex points at the db service with its credentials"
    );
    let listen = env["INCIDEX_LISTEN"].as_str().expect("listen");
    let port = listen.rsplit(':').next().expect("port");
    let ports: Vec<&str> = incidex["ports"]
        .as_sequence()
        .expect("ports")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        ports.iter().any(|p| p.ends_with(&format!(":{port}"))),
        "{ports:?}"
    );
    // Every setting named in compose is one incidex reads.
    for key in env.as_mapping().expect("env").keys() {
        let key = key.as_str().expect("key");
        assert!(
            [
                "INCIDEX_DATABASE_URL",
                "INCIDEX_LISTEN",
                "INCIDEX_DATA_DIR",
                "INCIDEX_LOG_FORMAT"
            ]
            .contains(&key),
            "unknown setting {key}"
        );
    }
}

#[test]
fn dockerfile_builds_and_runs_the_incidex_binary() {
    let dockerfile = include_str!("../../Dockerfile");
    assert!(dockerfile.contains("cargo build --release --locked -p incidex-api --bin incidex"));
    assert!(dockerfile.contains("ENTRYPOINT [\"incidex\"]"));
    assert!(dockerfile.contains("CMD [\"serve\"]"));
    assert!(dockerfile.contains("INCIDEX_LISTEN=0.0.0.0:8080"));
}
