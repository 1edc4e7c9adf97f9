package keys

import (
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/shared/clock"
)

func TestCacheFollowsRotationAfterTTL(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	st, err := Open(t.TempDir(), clk)
	if err != nil {
		t.Fatal(err)
	}
	first, _ := st.Rotate()
	c := NewCache(st, clk, time.Minute)
	s, err := c.Active()
	if err != nil || s.KeyID() != first.ID {
		t.Fatalf("Active = %v, %v", s, err)
	}
	second, _ := st.Rotate()
	if s, _ := c.Active(); s.KeyID() != first.ID {
		t.Fatalf("within the TTL the cache returned %s", s.KeyID())
	}
	clk.Advance(time.Minute)
	if s, _ := c.Active(); s.KeyID() != second.ID {
		t.Fatalf("after the TTL the cache returned %s, want %s", s.KeyID(), second.ID)
	}
}

func TestCacheReportsMissingKeys(t *testing.T) {
	st, _ := Open(t.TempDir(), nil)
	if _, err := NewCache(st, nil, 0).Active(); err == nil {
		t.Fatal("Active on an empty store succeeded")
	}
}

func TestCacheTrustsARotatedKeyAfterTTL(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	st, _ := Open(t.TempDir(), clk)
	first, _ := st.Rotate()
	c := NewCache(st, clk, time.Minute)
	if tr, err := c.Trust(); err != nil || len(tr.IDs()) != 1 {
		t.Fatalf("Trust = %v, %v", tr, err)
	}
	second, _ := st.Rotate()
	if tr, _ := c.Trust(); len(tr.IDs()) != 1 {
		t.Fatalf("within the TTL the cache trusts %v", tr.IDs())
	}
	clk.Advance(time.Minute)
	tr, _ := c.Trust()
	if _, ok := tr.Key(second.ID); !ok {
		t.Fatalf("after the TTL the cache trusts %v, want %s too", tr.IDs(), second.ID)
	}
	if _, ok := tr.Key(first.ID); !ok {
		t.Fatal("the old key is no longer trusted")
	}
}
