// Package harness runs the project's binaries as real processes for the
// end-to-end suites (agent/internal/e2e, server/e2e, e2e) and gives them
// one way to wait for things. It is imported only from _test files.
//
// Writing a new end-to-end test:
//
//  1. In the suite's TestMain, build what the suite runs once with
//     Build(pkgs...) and remove it after m.Run with Cleanup. Binary(pkg)
//     (or Path(name)) is then the built file.
//  2. Start a long-running process with Start(t, path, args, Options{...}).
//     It is stopped when the test ends (SIGTERM, then SIGKILL after the
//     grace); Stop, Kill (kill -9, for crash tests) and Wait end it
//     earlier. Wait for it to be ready with WaitLine (a stdout line with a
//     prefix, e.g. "ingest listening on "), WaitFile (an address file) or
//     WaitHTTP (a probe): each fails the test after its timeout with the
//     process's output.
//  3. Run a command to completion with Run (a timeout, stdout and stderr
//     apart, the exit error).
//  4. Wait for an outcome with Eventually(t, timeout, cond, "what") (or
//     p.Eventually, which also shows the process's output on failure),
//     never with a sleep followed by a check. For "nothing arrived", make
//     something that must arrive after it and wait for that first: a
//     marker published after the thing that must not arrive
//     (brokers.Barrier in internal/testkit/brokers), or a server counter
//     read from /metrics; then check the unwanted thing is absent.
//  5. Brokers and the telemetry sink come from internal/testkit/brokers
//     (embedded NATS, Mosquitto, Subscribe/SubscribeWith).
//
// A time.Sleep that paces load (a client backing off, a crash loop's
// random run time) is fine; one that waits for something to happen is not.
package harness
