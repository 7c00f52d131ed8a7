//! Command-line options shared by the benchmarks of this package.

use crate::cluster::StoreChoice;

/// The value after `name` on the command line.
pub fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned()
}

/// The number after `name`, or `default`.
pub fn number<T: std::str::FromStr>(name: &str, default: T) -> T {
    arg(name).map_or(default, |s| s.parse().unwrap_or_else(|_| panic!("{name}: not a number")))
}

/// `--store embedded|mysql|both` (default both), MySQL from `--mysql`,
/// IM_TEST_MYSQL_URL or the local server.
pub fn stores() -> Vec<StoreChoice> {
    let mysql = arg("--mysql")
        .or_else(|| std::env::var("IM_TEST_MYSQL_URL").ok())
        .unwrap_or_else(|| "mysql://root@127.0.0.1:3306".into());
    match arg("--store").as_deref().unwrap_or("both") {
        "embedded" => vec![StoreChoice::Embedded],
        "mysql" => vec![StoreChoice::Mysql(mysql)],
        "both" => vec![StoreChoice::Embedded, StoreChoice::Mysql(mysql)],
        other => panic!("--store {other}: embedded, mysql or both"),
    }
}
