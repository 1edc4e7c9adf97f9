package clock

import (
	"testing"
	"time"
)

var epoch = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

func TestFakeNowMovesOnlyWhenTold(t *testing.T) {
	f := NewFake(epoch)
	if got := f.Now(); !got.Equal(epoch) {
		t.Fatalf("Now = %v, want %v", got, epoch)
	}
	f.Advance(36 * time.Hour)
	if got, want := f.Now(), epoch.Add(36*time.Hour); !got.Equal(want) {
		t.Fatalf("after Advance: Now = %v, want %v", got, want)
	}
	f.Set(epoch.Add(-48 * time.Hour))
	if got, want := f.Now(), epoch.Add(-48*time.Hour); !got.Equal(want) {
		t.Fatalf("after Set backwards: Now = %v, want %v", got, want)
	}
}

func TestFakeAfterFiresAtDeadline(t *testing.T) {
	f := NewFake(epoch)
	ch := f.After(time.Minute)
	f.Advance(59 * time.Second)
	select {
	case <-ch:
		t.Fatal("After fired before its deadline")
	default:
	}
	f.Advance(time.Second)
	select {
	case got := <-ch:
		if want := epoch.Add(time.Minute); !got.Equal(want) {
			t.Fatalf("After delivered %v, want %v", got, want)
		}
	default:
		t.Fatal("After did not fire at its deadline")
	}
}

func TestFakeTickerFiresEachPeriodAndStops(t *testing.T) {
	f := NewFake(epoch)
	tk := f.NewTicker(time.Hour)
	for i := 1; i <= 3; i++ {
		f.Advance(time.Hour)
		select {
		case got := <-tk.C():
			if want := epoch.Add(time.Duration(i) * time.Hour); !got.Equal(want) {
				t.Fatalf("tick %d at %v, want %v", i, got, want)
			}
		default:
			t.Fatalf("tick %d missing", i)
		}
	}
	tk.Stop()
	f.Advance(time.Hour)
	select {
	case <-tk.C():
		t.Fatal("stopped ticker fired")
	default:
	}
}

func TestFakeSetBackwardsFiresNothing(t *testing.T) {
	f := NewFake(epoch)
	ch := f.After(time.Hour)
	f.Set(epoch.Add(-time.Hour))
	select {
	case <-ch:
		t.Fatal("timer fired while time moved backwards")
	default:
	}
}

func TestOrRealDefaults(t *testing.T) {
	if _, ok := OrReal(nil).(Real); !ok {
		t.Fatal("OrReal(nil) is not the real clock")
	}
	f := NewFake(epoch)
	if OrReal(f) != Clock(f) {
		t.Fatal("OrReal replaced a given clock")
	}
}
