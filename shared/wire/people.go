package wire

import "time"

// Invitation is a link where a person sets (or resets) the password they
// sign in to the web console with. InvitationPath is relative to the
// server's URL; it works once, until InvitationExpiresAt.
type Invitation struct {
	InvitationPath      string    `json:"invitation_path"`
	InvitationExpiresAt time.Time `json:"invitation_expires_at"`
}

// PasswordResetResponse answers POST /v1/users/{id}/reset-password.
type PasswordResetResponse struct {
	UserID string `json:"user_id"`
	Invitation
}
