package store

// Keys of license notices and their e-mail (ledger/notices*.go).

// NoticeKey is one notice.
func NoticeKey(id string) []byte { return key("nt", id) }

// NoticeByLicenseKey lists a license's notices in the order issued; the
// value is the notice id.
func NoticeByLicenseKey(license string, seq int64) []byte { return key("ntl", license, num(seq)) }

// NoticeByLicensePrefix is the prefix of every NoticeByLicenseKey of a license.
func NoticeByLicensePrefix(license string) []byte { return prefix("ntl", license) }

// NoticeDueKey schedules a license's next notice at the second it falls due.
func NoticeDueKey(due int64, license string) []byte { return key("ntd", num(due), license) }

// NoticeDuePrefix is the prefix of every NoticeDueKey, earliest first.
func NoticeDuePrefix() []byte { return prefix("ntd") }

// EmailQueueKey queues a notice's e-mail at the second it is next sent.
func EmailQueueKey(at int64, notice string) []byte { return key("ntq", num(at), notice) }

// EmailQueuePrefix is the prefix of every EmailQueueKey, earliest first.
func EmailQueuePrefix() []byte { return prefix("ntq") }

// NoticesSeededKey marks a store whose licenses all have their notices
// scheduled.
func NoticesSeededKey() []byte { return MetaKey("notices_seeded") }

// NoticeByCustomerKey lists a customer's own notices (its monthly
// reports) in the order issued; the value is the notice id.
func NoticeByCustomerKey(customer string, seq int64) []byte { return key("ntc", customer, num(seq)) }

// NoticeByCustomerPrefix is the prefix of every NoticeByCustomerKey of a customer.
func NoticeByCustomerPrefix(customer string) []byte { return prefix("ntc", customer) }

// MonthlyReportsKey records how far the monthly report notices of a month
// (YYYY-MM) have gone.
func MonthlyReportsKey(month string) []byte { return MetaKey("monthly_reports/" + month) }

// CustomerAll is the prefix of every customer record (CustomerKey).
func CustomerAll() []byte { return prefix("c") }

// DiscrepancyDayKey marks a day (YYYY-MM-DD) whose telemetry
// discrepancies were judged and their events emitted.
func DiscrepancyDayKey(day string) []byte { return MetaKey("discrepancy_day/" + day) }

// SchedulerLeaseKey holds the scheduler's lease (ledger/lease.go): which
// server process runs the scheduler, until when.
func SchedulerLeaseKey() []byte { return MetaKey("scheduler_lease") }
