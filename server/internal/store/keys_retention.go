package store

// DevicePrefix is the prefix of every device record (DeviceKey), in device
// id order: the retention pruning walks devices with it.
func DevicePrefix() []byte { return prefix("d") }
