package cli

// commands is tollgate-agent's command table: every subcommand, its
// synopsis (printed with -h and under a usage error) and the function that
// runs it. A command is defined here and nowhere else.
func commands() []Command {
	return []Command{
		{Name: "init", Run: runInit,
			Summary:  "create the device key and state (prints the public key)",
			Synopsis: "init --data DIR --device-id ID --model MODEL [--server URL] [--trust FILE] [-o FORMAT]"},
		{Name: "trust", Run: runTrust,
			Summary:  "pin the license server's trust bundle (after an init without --trust)",
			Synopsis: "trust --data DIR --trust FILE [--replace] [-o FORMAT]",
			Help: "Pins FILE when no trust bundle is pinned. The same bundle again is a no-op.\n" +
				"A different bundle replaces the pinned one only with --replace: every token\n" +
				"and revocation list is then checked against the new server keys (logged)."},
		{Name: "activate", Run: runActivate,
			Summary:  "import tokens, a revocation list or an activation key, or redeem a serial or code online",
			Synopsis: "activate --data DIR [--config FILE] [--server URL] [-o FORMAT] (FILE | TOKEN | SERIAL | CODE)",
			Help: "The one argument is one of:\n" +
				"  FILE    tokens and revocation lists, one per line, or an air-gap activation key file\n" +
				"  TOKEN   one tg1. document given on the command line\n" +
				"  SERIAL  a license serial, redeemed online with the license server (--server)\n" +
				"  CODE    an enrollment code, redeemed online the same way"},
		{Name: "run", Run: runRun,
			Summary:  "enforce licenses, take samples in and publish them",
			Synopsis: "run --data DIR [--config FILE] [--broker URL] [--server URL] [--ingest ADDR] [--bridge URL] [flags]"},
		{Name: "status", Run: runStatus,
			Summary:  "show licenses, budget, refusals and queue",
			Synopsis: "status --data DIR [--config FILE] [-o FORMAT]"},
		{Name: "sync", Run: runSync,
			Summary:  "sync with the license server once now, then exit",
			Synopsis: "sync --data DIR [--config FILE] [--server URL] [-o FORMAT]"},
		{Name: "request", Run: runRequest,
			Summary:  "write an air-gapped activation request file (--out FILE)",
			Synopsis: "request --data DIR --out FILE [-o FORMAT]"},
		{Name: "export-usage", Run: runExport,
			Summary:  "write an air-gapped usage receipt file (--out FILE)",
			Synopsis: "export-usage --data DIR --out FILE [--config FILE] [-o FORMAT]"},
		{Name: "inspect", Run: runInspect,
			Summary:  "print an air-gap file or tg1 document and whether its signature verifies",
			Synopsis: "inspect [--data DIR | --trust FILE] [--public-key KEY] [-o FORMAT] (FILE | TOKEN)"},
	}
}
