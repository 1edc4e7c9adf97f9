package ctl

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/tollgate-iot/tollgate/shared/cli"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

func runDeviceSync(ctx context.Context, x *invocation) error {
	var s wire.DeviceSync
	if err := x.c.Do(ctx, "GET", "/v1/devices/"+esc(x.args[0])+"/sync", nil, &s); err != nil {
		return err
	}
	clockNote(x, s.Clock)
	return cli.Render(x.out, x.format, s, syncHeader, [][]string{syncRow(&s)})
}

var syncHeader = []string{"DEVICE", "LAST_SYNC", "SYNCS", "ACKED_SEQ", "HIGHEST_SEQ", "GAPS", "FORKS", "OVERDRAFTS",
	"ACCEPTED_24H", "OVERAGE_24H", "REFUSED_24H", "ACCEPTED_7D", "OVERAGE_7D", "REFUSED_7D"}

func syncRow(s *wire.DeviceSync) []string {
	gaps := make([]string, len(s.Gaps))
	for i, g := range s.Gaps {
		gaps[i] = fmt.Sprintf("%d-%d", g.From, g.To)
	}
	n := func(v int64) string { return strconv.FormatInt(v, 10) }
	return []string{s.DeviceID, day(s.LastSyncAt), n(s.Syncs), n(s.AckedSeq), n(s.HighestSeq), dash(strings.Join(gaps, " ")),
		n(s.ForkCount), n(s.Overdrafts), n(s.Last24h.Accepted), n(s.Last24h.Overage), n(s.Last24h.Refused),
		n(s.Last7d.Accepted), n(s.Last7d.Overage), n(s.Last7d.Refused)}
}
