package cli

import "github.com/tollgate-iot/tollgate/shared/cli"

// program is tollgate-server's command table: every command's name,
// synopsis and the function that runs it. A command is named here and
// nowhere else.
var program = cli.Program[*IO]{Name: "tollgate-server", Commands: []Command{
	{Name: "init", Synopsis: "init --data DIR [--name N] [--email E] [-o table|json|csv]",
		Summary: "create the signing key, the root customer and the first admin API key", Run: runInit},
	{Name: "serve", Synopsis: "serve --data DIR [--http ADDR] [--mqtt ADDR] [--broker embedded|tcp://HOST:PORT|ssl://HOST:PORT] [--tls-cert FILE --tls-key FILE] [flags]",
		Summary: "serve the admin REST API, /healthz, /metrics and the MQTT broker", Run: runServe},
	{Name: "keys list", Synopsis: "keys list --data DIR [-o table|json|csv]",
		Summary: "list the signing keys", Run: runKeysList},
	{Name: "keys rotate", Synopsis: "keys rotate --data DIR [-o table|json|csv]",
		Summary: "make a new signing key the active one; the old ones stay trusted", Run: runKeysRotate},
	{Name: "trust", Synopsis: "trust --data DIR --out FILE|-",
		Summary: "write the trust bundle, the public keys agents pin", Run: runTrust},
	{Name: "admin-key", Synopsis: "admin-key --data DIR [--email E] [-o table|json|csv]",
		Summary: "recover a lost admin key: mint a new vendor admin API key, shown once; the server must be stopped", Run: runAdminKey},
	{Name: "backup", Synopsis: "backup --data DIR [--store badger|postgres://...] [-o table|json|csv] FILE", Summary: "write the ledger to a new FILE (a dump; the signing keys are not in it)", Run: runBackup},
	{Name: "restore", Synopsis: "restore --data DIR [--store badger|postgres://...] [-o table|json|csv] FILE", Summary: "load a backup FILE into an empty ledger", Run: runRestore},
	{Name: "migrate-store", Synopsis: "migrate-store --data DIR --to postgres://... [-o table|json|csv]", Summary: "copy DIR's badger ledger into an empty PostgreSQL database and verify the copy", Run: runMigrateStore},
}}
