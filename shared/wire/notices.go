package wire

import "time"

// NoticeEmail is the e-mail of a notice: state is pending, sent, failed,
// void (the end it warned of moved before it was sent), undelivered (the
// server sends no e-mail) or no_recipient.
type NoticeEmail struct {
	State     string    `json:"state"`
	To        []string  `json:"to,omitempty"`
	Attempts  int       `json:"attempts,omitempty"`
	LastError string    `json:"last_error,omitempty"`
	NextAt    time.Time `json:"next_at,omitzero"`
	SentAt    time.Time `json:"sent_at,omitzero"`
}

// Notice is one notice about a license's end (docs/notices.md).
type Notice struct {
	ID         string    `json:"id"`
	LicenseID  string    `json:"license_id"`
	Serial     string    `json:"serial"`
	CustomerID string    `json:"customer_id"`
	DeviceID   string    `json:"device_id,omitempty"`
	Kind       string    `json:"kind"`
	End        time.Time `json:"end"`
	DueAt      time.Time `json:"due_at"`
	IssuedAt   time.Time `json:"issued_at"`
	// Collapsed names earlier notices of the same end that fell due while
	// the server was down; only this one was sent.
	Collapsed []string `json:"collapsed,omitempty"`
	// Subject is what a notice about no license or device is about (a
	// disabled webhook endpoint's URL).
	Subject string      `json:"subject,omitempty"`
	Summary string      `json:"summary"`
	Email   NoticeEmail `json:"email"`
}

// NoticeList is GET /v1/licenses/{id}/notices, oldest first.
type NoticeList struct {
	Notices []Notice `json:"notices"`
}
