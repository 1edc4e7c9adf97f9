package store

// HeldTokenKey records that the agent of holder (a device, or the gateway
// that enforces for a child) was given a token of a license, and until
// when the latest such token is within its window. A device's revocation
// list is built from these: it names only licenses of which the device may
// still hold a token, including licenses taken away from it since.
func HeldTokenKey(holder, license string) []byte { return key("th", holder, license) }

// HeldTokenAllPrefix is the prefix of every HeldTokenKey.
func HeldTokenAllPrefix() []byte { return prefix("th") }

// HeldTokenPrefix is the prefix of every HeldTokenKey of holder.
func HeldTokenPrefix(holder string) []byte { return prefix("th", holder) }
