//! imbench against a cluster started with `imctl up`: users provisioned in
//! the store, messages timed end to end, idle connections held; the JSON
//! reports say what happened and nothing was lost.

mod util;

use serde_json::json;
use std::process::Command;
use std::time::Duration;

fn imbench(args: &[&str]) -> serde_json::Value {
    let json =
        std::env::temp_dir().join(format!("imbench-{}-{}.json", args[0], std::process::id()));
    let output = Command::new(env!("CARGO_BIN_EXE_imbench"))
        .args(args)
        .arg("--json")
        .arg(&json)
        .output()
        .expect("run imbench");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    let report = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let _ = std::fs::remove_file(json);
    report
}

#[test]
fn p2p_and_conn_measure_a_running_cluster() {
    // Below the ephemeral range, clear of the imctl and imcli tests' ports.
    let port_base = 14_000 + (std::process::id() % 200) as u16 * 30;
    let cluster = util::up("imbench-test", port_base);
    let status = format!("127.0.0.1:{port_base}");
    let data_dir = cluster.data().display().to_string();

    let p2p = imbench(&[
        "p2p",
        "--status",
        &status,
        "--data",
        &data_dir,
        "--pairs",
        "20",
        "--rate",
        "20",
        "--seconds",
        "2",
    ]);
    assert_eq!(p2p["pairs"], 20);
    let sent = each_answered_and_delivered_once(&p2p);
    assert!(sent >= 600, "{p2p}");
    assert!(p2p["result"]["latency_ms"]["p50"].as_f64().unwrap() > 0.0);

    // Closed loop: each sender keeps 2 messages unanswered and sends the next
    // as each answer arrives; every message is still answered and delivered once.
    let closed = imbench(&[
        "p2p",
        "--status",
        &status,
        "--data",
        &data_dir,
        "--pairs",
        "10",
        "--in-flight",
        "2",
        "--seconds",
        "2",
        "--prefix",
        "closed",
    ]);
    assert_eq!(closed["in_flight_per_sender"], 2, "{closed}");
    let sent = each_answered_and_delivered_once(&closed);
    assert!(sent > 20, "the window of 10 senders x 2 refills as answers arrive: {closed}");
    assert_eq!(closed["result"]["offered_per_s"].as_f64(), Some(0.0), "{closed}");

    let conn = imbench(&[
        "conn",
        "--status",
        &status,
        "--data",
        &data_dir,
        "--conns",
        "300",
        "--ramp",
        "1000",
        "--hold",
        "1",
        "--sources",
        "3",
        "--prefix",
        "idle",
    ]);
    assert_eq!(
        (conn["logged_in"].as_u64(), conn["still_connected"].as_u64()),
        (Some(300), Some(300)),
        "{conn}"
    );
    assert_eq!(conn["failed"], 0);
    assert_eq!(conn["chat_servers"].as_u64().map(|n| n >= 2), Some(true), "{conn}");
}

/// Checks that every message of a p2p report was acknowledged and delivered
/// and none lost; returns how many were sent.
fn each_answered_and_delivered_once(report: &serde_json::Value) -> u64 {
    let result = &report["result"];
    let sent = result["sent"].as_u64().unwrap();
    assert_eq!(result["acknowledged"], sent, "{report}");
    assert_eq!(result["delivered"], sent, "{report}");
    assert_eq!(result["lost"].as_u64(), Some(0), "{report}");
    sent
}

#[test]
fn the_mqtt_peer_run_measures_a_broker_of_its_own() {
    // A mosquitto of this test's own, on a port of its own.
    let port = 13_000 + (std::process::id() % 900) as u16;
    let config =
        std::env::temp_dir().join(format!("imbench-mosquitto-{}.conf", std::process::id()));
    std::fs::write(&config, format!("listener {port} 127.0.0.1\nallow_anonymous true\n")).unwrap();
    let mut broker = Command::new("mosquitto")
        .arg("-c")
        .arg(&config)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("mosquitto is installed (tools/test.sh installs it)");
    let addr = format!("127.0.0.1:{port}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::net::TcpStream::connect(&addr).is_err() {
        assert!(std::time::Instant::now() < deadline, "mosquitto did not listen on {addr}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let report =
        imbench(&["mqtt", "--broker", &addr, "--pairs", "20", "--rate", "20", "--seconds", "2"]);
    let result = &report["result"];
    let sent = result["sent"].as_u64().unwrap();
    assert!(sent >= 600, "{report}");
    assert_eq!(
        (result["acknowledged"].as_u64(), result["delivered"].as_u64()),
        (Some(sent), Some(sent)),
        "{report}"
    );
    let _ = broker.kill();
    let _ = broker.wait();
    let _ = std::fs::remove_file(config);
}

#[test]
fn a_login_storm_then_a_killed_chat_server_whose_users_come_back() {
    let port_base = 8_000 + (std::process::id() % 150) as u16 * 30;
    let mut cluster = util::up("imbench-storm", port_base);
    let chat2 = cluster.daemon_pid("chat2.toml").expect("chat-2 runs").to_string();
    let report = imbench(&[
        "storm",
        "--gate",
        &format!("127.0.0.1:{}", port_base + 2),
        "--data",
        &cluster.data().display().to_string(),
        "--users",
        "300",
        "--kill",
        &chat2,
        "--kill-after",
        "1",
        "--seconds",
        "6",
        "--resume",
        "--rate",
        "2",
    ]);
    assert_eq!(report["logged_in"], 300, "{report}");
    let reconnect = &report["reconnect"];
    let lost = reconnect["connections_lost"].as_u64().unwrap();
    assert!(lost > 0 && lost <= 300, "{report}");
    assert!(reconnect["all_back_seconds"].as_f64().unwrap() > 0.0, "{report}");
    // Back by session token: a gate login for each lost connection (and
    // some that landed on the dead server first), not one refused.
    assert!(reconnect["gate_logins"].as_u64().unwrap() >= lost, "{report}");
    assert_eq!(reconnect["still_disconnected"], 0, "{report}");
    let messages = &reconnect["messages"];
    assert!(messages["acknowledged"].as_u64().unwrap() > 0, "{report}");
    assert_eq!((&messages["lost"], &messages["stored_twice"]), (&json!(0), &json!(0)), "{report}");
    let gate = format!("127.0.0.1:{}", port_base + 2).parse().unwrap();
    let metrics = proto::http_client::request(gate, "GET", "/metrics", b"", Duration::from_secs(5));
    let metrics = String::from_utf8(metrics.unwrap().body).unwrap();
    let resumed = metrics
        .lines()
        .find_map(|l| l.strip_prefix("im_gate_sessions_resumed_total "))
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap();
    assert!(resumed >= lost, "{resumed} resumed, {lost} lost");
    // The cluster went on without chat-2.
    assert!(cluster.is_running(), "imctl stopped when a chat server died");
}
