package wire

// The admin REST API's documents (admin*.go), used by the server's handlers
// and by tollgatectl. Errors use ErrorBody (ingest.go), the same shape as
// the agent's local API: {"error":{"code":"…","message":"…"}}.

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tollgate-iot/tollgate/shared/ident"
)

// ErrInvalid reports a request document that breaks a field rule. Validate
// methods wrap it.
var ErrInvalid = errors.New("invalid request")

// Bounds of admin requests.
const (
	// MaxAdminBodyBytes caps an admin API request body.
	MaxAdminBodyBytes = 256 << 10
	// MaxBatch caps bulk creation and a sell or return batch.
	MaxBatch = 1000
	// MaxTextLen caps free-text fields (names, addresses, descriptions).
	MaxTextLen = 1024
	// MaxPageSize caps one page of a listing.
	MaxPageSize = 1000
	// MaxIssuerDurations caps an issuer's allowed_months list (one entry
	// per possible month count, 1..60).
	MaxIssuerDurations = 60
)

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}

func checkID(field, v string, required bool) error {
	if v == "" && !required {
		return nil
	}
	if err := ident.CheckID(field, v); err != nil {
		return invalid("%v", err)
	}
	return nil
}

func checkText(field, v string, max int) error {
	if len(v) > max {
		return invalid("%s is %d bytes, at most %d", field, len(v), max)
	}
	if strings.ContainsRune(v, 0) {
		return invalid("%s contains NUL", field)
	}
	return nil
}

// WhoAmI describes the caller.
type WhoAmI struct {
	UserID     string `json:"user_id"`
	CustomerID string `json:"customer_id"`
	Role       string `json:"role"`
}

// Health is the /healthz answer.
type Health struct {
	Status string `json:"status"`
}

// Customer is a node of the customer tree. VAT appears for the parent only.
type Customer struct {
	ID                  string `json:"id"`
	Name                string `json:"name"`
	ParentID            string `json:"parent_id"`
	Email               string `json:"email"`
	Address             string `json:"address"`
	VAT                 string `json:"vat,omitempty"`
	AllowSuperiorManage bool   `json:"allow_superior_manage"`
	// Issuer is the right to create licenses and add days, granted by the
	// vendor; IssuerLimits bound it (present for issuers only). Shown to
	// the customer itself and its superiors.
	Issuer       bool          `json:"issuer"`
	IssuerLimits *IssuerLimits `json:"issuer_limits,omitempty"`
	CreatedAt    time.Time     `json:"created_at"`
}

// IssuerLimits bounds what an issuer may create.
type IssuerLimits struct {
	// AllowedMonths lists the durations of standard term licenses; empty:
	// any.
	AllowedMonths []int `json:"allowed_months"`
	// MaxDays caps a day license's total days; 0: no limit of its own.
	MaxDays int64 `json:"max_days"`
}

// CustomerList is one page of customers.
type CustomerList struct {
	Customers  []Customer `json:"customers"`
	NextCursor string     `json:"next_cursor,omitempty"`
}

// CreateCustomerRequest creates a customer (with its automatic trial).
type CreateCustomerRequest struct {
	ID       string `json:"id,omitempty"`
	Name     string `json:"name"`
	ParentID string `json:"parent_id,omitempty"`
	Email    string `json:"email,omitempty"`
	Address  string `json:"address,omitempty"`
	VAT      string `json:"vat,omitempty"`
}

// Validate checks the request on its own.
func (r *CreateCustomerRequest) Validate() error {
	if strings.TrimSpace(r.Name) == "" {
		return invalid("name is required")
	}
	for _, f := range []struct{ n, v string }{{"name", r.Name}, {"email", r.Email}, {"address", r.Address}, {"vat", r.VAT}} {
		if err := checkText(f.n, f.v, MaxTextLen); err != nil {
			return err
		}
	}
	if err := checkID("id", r.ID, false); err != nil {
		return err
	}
	return checkID("parent_id", r.ParentID, false)
}

// UpdateCustomerRequest changes a customer; absent fields stay.
type UpdateCustomerRequest struct {
	Name                *string `json:"name,omitempty"`
	Email               *string `json:"email,omitempty"`
	Address             *string `json:"address,omitempty"`
	VAT                 *string `json:"vat,omitempty"`
	AllowSuperiorManage *bool   `json:"allow_superior_manage,omitempty"`
	// Issuer grants (true) or withdraws (false) the issuer right;
	// AllowedMonths and MaxDays set its limits. Vendor only.
	Issuer        *bool  `json:"issuer,omitempty"`
	AllowedMonths *[]int `json:"allowed_months,omitempty"`
	MaxDays       *int64 `json:"max_days,omitempty"`
}

// Validate checks the request on its own.
func (r *UpdateCustomerRequest) Validate() error {
	if r.Name == nil && r.Email == nil && r.Address == nil && r.VAT == nil && r.AllowSuperiorManage == nil &&
		r.Issuer == nil && r.AllowedMonths == nil && r.MaxDays == nil {
		return invalid("nothing to change")
	}
	if r.AllowedMonths != nil && len(*r.AllowedMonths) > MaxIssuerDurations {
		return invalid("allowed_months lists at most %d durations", MaxIssuerDurations)
	}
	for _, f := range []struct {
		n string
		v *string
	}{{"name", r.Name}, {"email", r.Email}, {"address", r.Address}, {"vat", r.VAT}} {
		if f.v != nil {
			if err := checkText(f.n, *f.v, MaxTextLen); err != nil {
				return err
			}
		}
	}
	return nil
}

// User is a user without its key.
type User struct {
	ID         string    `json:"id"`
	CustomerID string    `json:"customer_id"`
	Email      string    `json:"email"`
	Role       string    `json:"role"`
	Revoked    bool      `json:"revoked"`
	CreatedAt  time.Time `json:"created_at"`
}

// UserList lists users.
type UserList struct {
	Users []User `json:"users"`
}

// CreateUserRequest creates a user and its API key.
type CreateUserRequest struct {
	CustomerID string `json:"customer_id"`
	Email      string `json:"email"`
	Role       string `json:"role"`
}

// Validate checks the request on its own.
func (r *CreateUserRequest) Validate() error {
	if err := checkID("customer_id", r.CustomerID, true); err != nil {
		return err
	}
	if r.Email == "" || !strings.Contains(r.Email, "@") {
		return invalid("email is required")
	}
	if err := checkText("email", r.Email, 254); err != nil {
		return err
	}
	switch r.Role {
	case "admin", "operator", "viewer":
		return nil
	}
	return invalid("role %q: want admin, operator or viewer", r.Role)
}

// CreateUserResponse carries the API key and the console invitation
// (people.go), both shown this once.
type CreateUserResponse struct {
	User   User   `json:"user"`
	APIKey string `json:"api_key"`
	Invitation
}
