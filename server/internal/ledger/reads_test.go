package ledger

import (
	"testing"
	"time"
)

// TestReadsDoNotWaitForAWrite: while a write transaction is in progress
// (a group commit waiting for the store, say), reads go ahead — the view a
// sync's key check makes and a console page's. They used to wait for the
// write's end: the ledger's root id was read under the writers' mutex,
// which a write holds for its whole transaction, so every request queued
// behind every commit.
func TestReadsDoNotWaitForAWrite(t *testing.T) {
	e := newEnv(t)
	_, acme, _, _ := e.tree()
	inWrite, release := make(chan struct{}), make(chan struct{})
	wrote := make(chan error, 1)
	go func() {
		wrote <- e.lg.update(func(*op) error {
			close(inWrite)
			<-release
			return nil
		})
	}()
	<-inWrite
	read := make(chan error, 2)
	go func() {
		_, err := e.lg.GetCustomer(ctx, acme, "acme")
		read <- err
	}()
	go func() {
		_, err := e.lg.DeviceKeyHolders(ctx, "0123456789abcdef")
		read <- err
	}()
	for range 2 {
		select {
		case err := <-read:
			if err != nil {
				t.Error(err)
			}
		case <-time.After(10 * time.Second):
			close(release)
			t.Fatal("a read waited for the write in progress")
		}
	}
	close(release)
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
}
