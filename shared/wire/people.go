package wire

import "time"

// Invitation is a link where a person sets (or resets) the password they
// sign in to the web console with. InvitationPath is relative to the
// server's URL; it works once, until InvitationExpiresAt.
type Invitation struct {
	InvitationPath      string    `json:"invitation_path"`
	InvitationExpiresAt time.Time `json:"invitation_expires_at"`
	// InvitationEmailed: the server (with SMTP) e-mailed the link to the
	// person; otherwise hand it over yourself. InvitationEmailError says
	// why sending failed.
	InvitationEmailed    bool   `json:"invitation_emailed"`
	InvitationEmailError string `json:"invitation_email_error,omitempty"`
}

// PasswordResetResponse answers POST /v1/users/{id}/reset-password.
type PasswordResetResponse struct {
	UserID string `json:"user_id"`
	Invitation
}
