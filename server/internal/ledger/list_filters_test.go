package ledger

import (
	"testing"
)

// listIDs pages through ListLicenses with the given page size and returns
// every listed license id, failing on a repeat.
func listIDs(t *testing.T, e *env, a Actor, f LicenseFilter, pageSize int) []string {
	t.Helper()
	var ids []string
	seen := map[string]bool{}
	f.Limit = pageSize
	for page := 0; page < 100; page++ {
		ls, next, err := e.lg.ListLicenses(ctx, a, f)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range ls {
			if seen[l.ID] {
				t.Fatalf("license %s listed twice", l.ID)
			}
			seen[l.ID] = true
			ids = append(ids, l.ID)
		}
		if next == "" {
			return ids
		}
		f.Cursor = next
	}
	t.Fatal("paging did not end")
	return nil
}

func TestListFiltersBySerialLockAndDays(t *testing.T) {
	e := newEnv(t)
	dist, _, _, _ := e.tree()
	in := std("dist")
	in.Count = 6
	made, err := e.lg.CreateLicenses(ctx, e.root, in)
	if err != nil {
		t.Fatal(err)
	}
	locked := map[string]bool{}
	for _, l := range made[:4] {
		if _, err := e.lg.SetLock(ctx, dist, l.ID, true); err != nil {
			t.Fatal(err)
		}
		locked[l.ID] = true
	}
	five := e.create(dist, days("acme", 5))
	twenty := e.create(dist, days("acme", 20))
	yes, no := true, false
	lo, hi := int64(5), int64(10)

	t.Run("serial-prefix", func(t *testing.T) {
		got := listIDs(t, e, dist, LicenseFilter{SerialPrefix: made[2].Serial}, 2)
		if len(got) != 1 || got[0] != made[2].ID {
			t.Fatalf("got %v, want [%s]", got, made[2].ID)
		}
		if got := listIDs(t, e, dist, LicenseFilter{SerialPrefix: "no-such-serial"}, 2); len(got) != 0 {
			t.Fatalf("unknown prefix listed %v", got)
		}
	})
	t.Run("locked-paged-across-filtered-boundary", func(t *testing.T) {
		got := listIDs(t, e, dist, LicenseFilter{Locked: &yes}, 3)
		if len(got) != len(locked) {
			t.Fatalf("got %d locked licenses, want %d", len(got), len(locked))
		}
		for _, id := range got {
			if !locked[id] {
				t.Fatalf("%s is not locked", id)
			}
		}
		for _, id := range listIDs(t, e, dist, LicenseFilter{Locked: &no}, 3) {
			if locked[id] {
				t.Fatalf("locked %s listed as unlocked", id)
			}
		}
	})
	t.Run("days-range", func(t *testing.T) {
		got := listIDs(t, e, dist, LicenseFilter{DaysMin: &lo, DaysMax: &hi}, 1)
		if len(got) != 1 || got[0] != five.ID {
			t.Fatalf("got %v, want [%s]", got, five.ID)
		}
		got = listIDs(t, e, dist, LicenseFilter{DaysMin: &hi}, 1)
		if len(got) != 1 || got[0] != twenty.ID {
			t.Fatalf("got %v, want [%s]", got, twenty.ID)
		}
	})
	t.Run("locked-and-serial-combined", func(t *testing.T) {
		if got := listIDs(t, e, dist, LicenseFilter{Locked: &yes, SerialPrefix: made[5].Serial}, 2); len(got) != 0 {
			t.Fatalf("unlocked %s matched locked filter: %v", made[5].ID, got)
		}
		got := listIDs(t, e, dist, LicenseFilter{Locked: &yes, SerialPrefix: made[1].Serial}, 2)
		if len(got) != 1 || got[0] != made[1].ID {
			t.Fatalf("got %v, want [%s]", got, made[1].ID)
		}
	})
}
