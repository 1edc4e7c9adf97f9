package console

import (
	"context"

	"github.com/tollgate-iot/tollgate/server/internal/ledger"
)

// The dashboard's recent deductions and notices: the ledger's
// RecentDeductions and RecentNotices as the signed-in actor, which show
// only what the per-license calls would show the actor.

// RecentShown is how many recent deductions and notices the dashboard lists.
const RecentShown = 10

type recentData struct {
	Deductions []ledger.RecentDeduction
	Notices    []ledger.Notice
}

func (c *Console) recentOf(ctx context.Context, a ledger.Actor) (recentData, error) {
	ds, err := c.lg.RecentDeductions(ctx, a, RecentShown)
	if err != nil {
		return recentData{}, err
	}
	ns, err := c.lg.RecentNotices(ctx, a, RecentShown)
	if err != nil {
		return recentData{}, err
	}
	return recentData{Deductions: ds, Notices: ns}, nil
}
