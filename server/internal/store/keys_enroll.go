package store

// Keys of enrollment codes (docs/server.md "Online activation"), built with
// the same helpers as keys.go.

// EnrollmentKey is the record of one enrollment code, by its id.
func EnrollmentKey(id string) []byte { return key("en", id) }

// EnrollmentCodeKey maps the hex SHA-256 of an enrollment code to its id;
// the code itself is never stored.
func EnrollmentCodeKey(hash string) []byte { return key("eh", hash) }

// EnrollmentByCustomerKey indexes an enrollment code under its customer.
func EnrollmentByCustomerKey(customer, id string) []byte { return key("ec", customer, id) }

// EnrollmentByCustomerPrefix is the prefix of every enrollment code of customer.
func EnrollmentByCustomerPrefix(customer string) []byte { return prefix("ec", customer) }

// EnrolledDeviceKey marks a device as registered through an enrollment
// code: a retry by the same device does not take another use.
func EnrolledDeviceKey(enrollment, device string) []byte { return key("ed", enrollment, device) }
