package ctl

import "github.com/tollgate-iot/tollgate/shared/wire"

// commands is tollgatectl's command table: every REST command's name,
// synopsis and the function that runs it, in the order help lists them
// (inspect, which needs no server, is added in newProgram). A command is
// named here and nowhere else; its run function lives in the file of its
// group (licenses.go for "license ...", devices.go for "device ...").
var commands = []cmd{
	{name: "whoami", synopsis: "whoami", run: runWhoami},

	{name: "customer create", synopsis: "customer create --name N [--parent ID] [--email E] [--vat V] [--address A] [--id ID]", flags: customerCreateFlags, run: runCustomerCreate},
	{name: "customer list", synopsis: "customer list [--parent ID] [--limit N] [--cursor C]", flags: pageFlags("parent"), run: runCustomerList},
	{name: "customer show", synopsis: "customer show ID", args: 1, run: runCustomerShow},
	{name: "customer set", synopsis: "customer set ID [--allow-superior-manage=true|false] [--name N] [--email E] [--address A] [--vat V]" +
		" [--issuer=true|false] [--allowed-months 12,24] [--max-days N]", args: 1, flags: customerSetFlags, run: runCustomerSet},

	{name: "user create", synopsis: "user create --customer ID --email E --role admin|operator|viewer   (prints the API key and a console invitation link once)", flags: userCreateFlags, run: runUserCreate},
	{name: "user list", synopsis: "user list [--customer ID]", flags: userListFlags, run: runUserList},
	{name: "user revoke", synopsis: "user revoke USER_ID", args: 1, run: runUserRevoke},
	{name: "user reset-password", synopsis: "user reset-password USER_ID   (prints a console link to set a new password)", args: 1, run: runUserResetPassword},

	{name: "device create", synopsis: "device create --customer ID --id DEV --model M --public-key KEY [--gateway GW] [--location L]", flags: deviceCreateFlags, run: runDeviceCreate},
	{name: "device list", synopsis: "device list [--customer ID] [--limit N] [--cursor C]", flags: pageFlags("customer"), run: runDeviceList},
	{name: "device show", synopsis: "device show DEV", args: 1, run: deviceCall("GET", "", false)},
	{name: "device blacklist", synopsis: "device blacklist DEV [--reason R]", args: 1, flags: deviceBlacklistFlags, run: deviceCall("POST", "/blacklist", true)},
	{name: "device unblacklist", synopsis: "device unblacklist DEV", args: 1, run: deviceCall("POST", "/unblacklist", false)},
	{name: "device tokens", synopsis: "device tokens DEV   (the device's current license tokens)", args: 1, run: runDeviceTokens},
	{name: "device sync", synopsis: "device sync DEV   (last sync, acked seq, gaps, forks, overdrafts, counts of the server's last 24 h and 7 d — by the device's hours, or, if its clock is off, by when its syncs arrived, with a note; -o json adds the hours)", args: 1, run: runDeviceSync},
	{name: "device telemetry", synopsis: "device telemetry DEV [--from T] [--to T | --within 7d]   (per hour: observed by the broker, reported accepted, difference; if the device's clock is off, its hours are not the server's: a note and one row of totals instead)", args: 1, flags: windowFlags, run: runDeviceTelemetry},
	{name: "device discrepancies", synopsis: "device discrepancies [--customer ID] [--from T] [--to T | --within 7d] [--min-excess N] [--limit N]   (devices whose broker-observed telemetry exceeds what they reported)", flags: deviceDiscrepanciesFlags, run: runDeviceDiscrepancies},

	{name: "enrollment create", synopsis: "enrollment create --customer ID [--models P1,P2] [--uses N] [--expires-in 30d] [--license-pool]   (prints the code once)", flags: enrollmentCreateFlags, run: runEnrollmentCreate},
	{name: "enrollment list", synopsis: "enrollment list [--customer ID]", flags: enrollmentListFlags, run: runEnrollmentList},
	{name: "enrollment revoke", synopsis: "enrollment revoke ID   (enrolled devices keep their registration and licenses)", args: 1, run: runEnrollmentRevoke},

	{name: "license create", synopsis: "license create --customer ID --type standard|trial --billing term|days [--months N] [--days N] " +
		"--models 'P1,P2' [--max-samples-per-hour N] [--enforcement enforce|report] [--count K] [--no-renew] [--features a,b] " +
		"[--max-offline DURATION] [--max-children N] [--start-at-children N] [--retention-days N] [--cancellation-days N] [--alignment anniversary|calendar_year|fiscal_year:MM] " +
		"[--distributor-description S] [--customer-description S]", flags: licenseCreateFlags, run: runLicenseCreate},
	{name: "license list", synopsis: "license list [--customer ID] [--status S] [--type T] [--billing B] [--device D] [--expiring-within 30d] [--serial-prefix P] [--locked true|false] [--days-min N] [--days-max N] [--description TEXT] [--activated-from D] [--activated-to D] [--ends-from D] [--ends-to D] [--limit N] [--cursor C]", flags: pageFlags(licenseListFilters...), run: runLicenseList},
	{name: "license show", synopsis: "license show ID|SERIAL", args: 1, run: licenseCall("GET", "", nil)},
	{name: "license token", synopsis: "license token ID   (the current signed token of a bound license)", args: 1, run: runLicenseToken},
	{name: "license history", synopsis: "license history ID [--limit N] [--cursor C]   (every change with who and when, oldest first)", args: 1, flags: pageFlags(), run: runLicenseHistory},
	{name: "customer notices", synopsis: "customer notices ID   (the customer's monthly consumption report e-mails and its devices' failed days, with their e-mail state)", args: 1, run: runCustomerNotices},
	{name: "license notices", synopsis: "license notices ID   (expiry notices of the license: kind, the end they warn of, when issued, e-mail state)", args: 1, run: runLicenseNotices},
	{name: "license deductions", synopsis: "license deductions ID   (day deductions, including failed ones and fork charges)", args: 1, run: runDeductions},
	{name: "license bind", synopsis: "license bind ID --device DEV [--expire-replaced]", args: 1, flags: licenseBindFlags, run: runLicenseBind},
	{name: "license unbind", synopsis: "license unbind ID", args: 1, run: licenseCall("POST", "/unbind", nil)},
	{name: "license lock", synopsis: "license lock ID", args: 1, run: licenseCall("POST", "/lock", nil)},
	{name: "license unlock", synopsis: "license unlock ID", args: 1, run: licenseCall("POST", "/unlock", nil)},
	{name: "license revoke", synopsis: "license revoke ID", args: 1, run: licenseCall("POST", "/revoke", nil)},
	{name: "license suspend", synopsis: "license suspend ID", args: 1, run: licenseCall("POST", "/suspend", nil)},
	{name: "license resume", synopsis: "license resume ID", args: 1, run: licenseCall("POST", "/resume", nil)},
	{name: "license renew", synopsis: "license renew ID --on|--off", args: 1, flags: licenseRenewFlags, run: runLicenseRenew},
	{name: "license add-days", synopsis: "license add-days ID --days N   (top up a day license)", args: 1, flags: licenseAddDaysFlags,
		run: licenseCall("POST", "/days", func(x *invocation) any { return wire.AddDaysRequest{Days: x.n("days")} })},
	{name: "license set", synopsis: "license set ID [--customer-description S] [--distributor-description S]", args: 1, flags: licenseSetFlags, run: runLicenseSet},
	{name: "license delete", synopsis: "license delete ID   (never-activated licenses only)", args: 1, run: runLicenseDelete},
	{name: "license move", synopsis: "license move ID --to CUSTOMER   (never-activated licenses only; same id)", args: 1, flags: toFlag,
		run: licenseCall("POST", "/move", func(x *invocation) any { return wire.CustomerRef{To: x.s("to")} })},
	{name: "license transfer", synopsis: "license transfer ID --to CUSTOMER   (mints a new license id)", args: 1, flags: toFlag, run: runLicenseTransfer},
	{name: "license sell", synopsis: "license sell --to CUSTOMER (--ids A,B | --count N) [--type standard|trial]", flags: batchFlags("to"), run: runLicenseSell},
	{name: "license return", synopsis: "license return (--ids A,B | --count N) [--from CUSTOMER] [--type standard|trial]", flags: batchFlags("from"), run: runLicenseReturn},

	{name: "stats", synopsis: "stats [--customer ID]   (license counts by type, billing, status and kind; days left; blacklisted and offline devices)", flags: statsFlags, run: runStats},
	{name: "report consumption", synopsis: "report consumption --month YYYY-MM [--customer ID]   (per device and customer: budget, samples, peak hour, days over budget, overage, refusals, days charged, observed; -o csv streams)", flags: reportConsumptionFlags, run: runReportConsumption},

	{name: "sales list", synopsis: "sales list [--from YYYY-MM-DD] [--to YYYY-MM-DD] [--license ID] [--method sell|return|transfer|move|bind_handoff] [--limit N] [--cursor C]", flags: pageFlags(salesListFilters...), run: runSalesList},
	{name: "report renewals", synopsis: "report renewals --from YYYY-MM-DD --to YYYY-MM-DD [--customer ID] [--limit N] [--cursor C]   (renewals whose period started in [from, to))",
		flags: reportRenewalsFlags, run: runReportRenewals},
	{name: "report active", synopsis: "report active --reseller ID --day YYYY-MM-DD [--limit N] [--cursor C]   (licenses active that day in the subtree, as they were then)",
		flags: reportActiveFlags, run: runReportActive},
	{name: "report created", synopsis: "report created --month YYYY-MM [--customer ID] [--limit N] [--cursor C]   (licenses created that month with the customer's issuer right or one below it, with the distributor description: the purchase order)",
		flags: reportCreatedFlags, run: runReportCreated},
	{name: "audit list", synopsis: "audit list [--limit N] [--cursor C]   (newest first)", flags: pageFlags(), run: runAuditList},
	{name: "revocation show", synopsis: "revocation show [--device DEV]   (the current sequence; with --device, that device's signed list)",
		flags: revocationShowFlags, run: runRevocationShow},

	{name: "activation offline", synopsis: "activation offline --request FILE --license ID --out FILE   (writes the activation key file)", flags: activationOfflineFlags, run: runActivationOffline},
	{name: "activation key", synopsis: "activation key --device DEV --out FILE   (a fresh activation key: renewals, top-ups, revocations)", flags: activationKeyFlags, run: runActivationKey},
	{name: "usage import", synopsis: "usage import FILE   (reconcile a usage receipt: acked seq, gaps, forks, overdrafts)", args: 1, run: runUsageImport},

	{name: "webhook create", synopsis: "webhook create --customer ID --url U --events a,b   (prints the signing secret once)", flags: webhookCreateFlags, run: runWebhookCreate},
	{name: "webhook list", synopsis: "webhook list [--customer ID]", flags: userListFlags, run: runWebhookList},
	{name: "webhook delete", synopsis: "webhook delete ID", args: 1, run: runWebhookDelete},
	{name: "webhook test", synopsis: "webhook test ID   (queues a signed webhook.test event to that endpoint)", args: 1, run: deliveryCall("/v1/webhooks/", "/test")},
	{name: "webhook deliveries", synopsis: "webhook deliveries ID [--limit N]   (newest first: attempts, state, last response code, next attempt)", args: 1, flags: deliveriesFlags, run: runWebhookDeliveries},
	{name: "webhook redeliver", synopsis: "webhook redeliver DELIVERY   (sends it again with the same webhook-id)", args: 1, run: deliveryCall("/v1/deliveries/", "/redeliver")},
}
