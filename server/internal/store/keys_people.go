package store

// Keys of console sign-in (docs/console.md), built with the same helpers as
// keys.go. Secrets (invitation tokens, session ids) are never stored: only
// their hex SHA-256.

// PasswordKey holds a user's argon2id password hash and its parameters.
func PasswordKey(user string) []byte { return key("pw", user) }

// PersonEmailKey maps a lowercased e-mail address to the one user who
// signs in with it (set when a password is set).
func PersonEmailKey(email string) []byte { return key("pe", email) }

// InvitationKey maps the hash of an invitation token to its record.
func InvitationKey(hash string) []byte { return key("pi", hash) }

// SessionKey maps the hash of a session id to its record.
func SessionKey(hash string) []byte { return key("ps", hash) }

// SessionByUserKey indexes a session under its user (sign out everywhere).
func SessionByUserKey(user, hash string) []byte { return key("pu", user, hash) }

// SessionByUserPrefix is the prefix of every session of user.
func SessionByUserPrefix(user string) []byte { return prefix("pu", user) }

// SignInFailuresKey counts a user's failed sign-in attempts and holds the
// end of its lockout.
func SignInFailuresKey(user string) []byte { return key("pf", user) }
