package store

// DeductionByLicenseDevicePrefix is every day a license charged for one
// device, its fork charges (ForkChargeByLicenseKey) included.
func DeductionByLicenseDevicePrefix(license, device string) []byte {
	return prefix("dl", license, device)
}
