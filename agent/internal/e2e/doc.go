// Package e2e holds end-to-end tests of the tollgate-agent binary: they
// build it once, run it as a process on random loopback ports against real
// brokers, and kill it.
package e2e
