package syncproto

import (
	"fmt"

	"github.com/tollgate-iot/tollgate/shared/ident"
	"github.com/tollgate-iot/tollgate/shared/limits"
	"github.com/tollgate-iot/tollgate/shared/token"
)

// SeqRange is an inclusive range of deduction sequence numbers.
type SeqRange struct {
	From int64 `json:"from"`
	To   int64 `json:"to"`
}

// ChildAck is what the server holds of one gateway child's deduction
// records, as AckedSeq and Missing are for the reporter's own.
type ChildAck struct {
	DeviceID string     `json:"device_id"`
	AckedSeq int64      `json:"acked_seq"`
	Missing  []SeqRange `json:"missing"`
}

// Response is the server's signed answer to a sync request (and the body of
// a push over MQTT, with an empty nonce).
type Response struct {
	DeviceID string `json:"device_id"`
	// Nonce echoes the request's; empty on a push.
	Nonce string `json:"nonce"`
	// ServerTime is when the server signed the answer, Unix seconds.
	ServerTime int64 `json:"server_time"`
	// AckedSeq is the highest deduction seq the server holds for the device
	// with none missing below it; the agent may forget records up to it.
	AckedSeq int64 `json:"acked_seq"`
	// Missing lists seq ranges the server lacks below the highest it holds:
	// the agent sends them again if it still has them.
	Missing []SeqRange `json:"missing"`
	// Children acknowledge the deduction records of each gateway child the
	// report carried some of, ascending by device id; absent when it
	// carried none (and so for agents older than the field).
	Children []ChildAck `json:"children,omitempty"`
	// Tokens are the device's current license tokens (text form).
	Tokens []string `json:"tokens"`
	// RevocationList is the server's current signed list (text form).
	RevocationList string `json:"revocation_list"`
}

// Validate checks the answer's own fields; the agent verifies each token
// and the revocation list against its trust bundle itself.
func (r *Response) Validate() error {
	if err := ident.CheckID("device_id", r.DeviceID); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if r.Nonce != "" {
		if err := checkNonce(r.Nonce); err != nil {
			return err
		}
	}
	if r.ServerTime <= 0 || r.AckedSeq < 0 {
		return fmt.Errorf("%w: server_time must be positive and acked_seq not negative", ErrInvalid)
	}
	if r.Missing == nil || r.Tokens == nil {
		return fmt.Errorf("%w: missing and tokens must be lists", ErrInvalid)
	}
	if len(r.Missing) > limits.MaxSyncDeductions || len(r.Tokens) > limits.MaxActivationKeyTokens {
		return fmt.Errorf("%w: too many missing ranges or tokens", ErrInvalid)
	}
	if err := checkMissing("missing", r.AckedSeq, r.Missing); err != nil {
		return err
	}
	if len(r.Children) > limits.MaxSyncDeductions {
		return fmt.Errorf("%w: too many children", ErrInvalid)
	}
	for i, c := range r.Children {
		if err := ident.CheckID("children device_id", c.DeviceID); err != nil {
			return fmt.Errorf("%w: children[%d]: %v", ErrInvalid, i, err)
		}
		if c.DeviceID == r.DeviceID || i > 0 && c.DeviceID <= r.Children[i-1].DeviceID {
			return fmt.Errorf("%w: children[%d]: not ascending by device_id, or the reporter itself", ErrInvalid, i)
		}
		if c.AckedSeq < 0 || c.Missing == nil || len(c.Missing) > limits.MaxSyncDeductions {
			return fmt.Errorf("%w: children[%d]: acked_seq not negative and missing a bounded list", ErrInvalid, i)
		}
		if err := checkMissing(fmt.Sprintf("children[%d].missing", i), c.AckedSeq, c.Missing); err != nil {
			return err
		}
	}
	return nil
}

func checkMissing(field string, acked int64, ms []SeqRange) error {
	for i, m := range ms {
		if m.From <= acked || m.To < m.From || i > 0 && m.From <= ms[i-1].To+1 {
			return fmt.Errorf("%w: %s[%d] %d..%d is not an ascending, disjoint range above acked_seq", ErrInvalid, field, i, m.From, m.To)
		}
	}
	return nil
}

// SignResponse signs an answer with the server's active key.
func SignResponse(server *token.Signer, r *Response) (string, error) {
	if err := r.Validate(); err != nil {
		return "", err
	}
	p, err := token.EncodePayload(r)
	if err != nil {
		return "", err
	}
	return server.SignPayload(token.KindSyncResponse, p)
}

// OpenResponse verifies an answer against the server trust. If nonce is not
// empty, the answer must echo it (a sync); if it is empty, the answer must
// be a push (no nonce). The device id must be the agent's own.
func OpenResponse(trust *token.Trust, deviceID, nonce, text string) (*Response, error) {
	env, err := token.Open(trust, token.KindSyncResponse, text)
	if err != nil {
		return nil, err
	}
	var r Response
	if err := token.DecodePayload(env.Payload, &r); err != nil {
		return nil, err
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	if r.DeviceID != deviceID {
		return nil, fmt.Errorf("%w: answer for device %s", ErrInvalid, r.DeviceID)
	}
	if r.Nonce != nonce {
		return nil, fmt.Errorf("%w: answer does not echo this request's nonce (a replayed answer?)", ErrInvalid)
	}
	return &r, nil
}
