//! The client's own EMFILE (issue 20): a request that cannot get a socket because this
//! process is out of file descriptors is `client_error`, not the server's `connect_error`.
//! Its own test binary: it uses up the process's descriptors.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use loadtest_client::{Client, ClientConfig, Endpoint, NoGapSink, Prompt, StreamRequest};
use loadtest_run::Status;

#[tokio::test]
async fn out_of_file_descriptors_is_a_client_error() {
    if !cfg!(target_os = "linux") {
        return;
    }
    // A listener that is never answered: the request fails before it could matter.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut config = ClientConfig::new(format!("http://{}", listener.local_addr().unwrap()));
    config.request_timeout = Duration::from_secs(5);
    let client = Client::new(&config).unwrap();
    let request = StreamRequest::new(Endpoint::Chat, Arc::from("m"), Prompt::text("hi")).unwrap();
    // Lower this process's open-files limit so that using it all up is quick.
    let lowered = std::process::Command::new("prlimit")
        .args([
            format!("--pid={}", std::process::id()),
            "--nofile=512:".to_owned(),
        ])
        .status()
        .is_ok_and(|s| s.success());
    let mut held = Vec::new();
    loop {
        match std::fs::File::open("/dev/null") {
            Ok(f) => held.push(f),
            Err(e) if e.raw_os_error() == Some(24) => break,
            Err(e) => panic!("{e}"),
        }
        if !lowered && held.len() > 100_000 {
            return; // a huge limit and no prlimit: not worth it
        }
    }
    let record = client.stream(&request, &mut NoGapSink).await;
    drop(held);
    assert_eq!(record.status, Status::ClientError, "{record:?}");
    assert!(
        record
            .error
            .as_deref()
            .unwrap()
            .contains("Too many open files"),
        "{record:?}"
    );
}
