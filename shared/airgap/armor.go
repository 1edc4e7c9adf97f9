// Package airgap holds the files that license air-gapped sites (docs/design.md#air-gapped-sites):
// the activation request a device writes, the activation key an admin
// makes from it, and the armor that wraps each signed document as a small
// text file a person can carry, mail or paste.
//
// An armored file is a header line, the signed document's text wrapped at
// 64 columns, and a footer line:
//
//	-----BEGIN TOLLGATE ACTIVATION REQUEST-----
//	tg1.req.3f0c…
//	…
//	-----END TOLLGATE ACTIVATION REQUEST-----
//
// The label must match the kind of the document inside. Lines end in LF or,
// consistently, CRLF (files cross Windows machines on USB sticks); nothing
// else is accepted.
package airgap

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/tollgate-iot/tollgate/shared/limits"
	"github.com/tollgate-iot/tollgate/shared/token"
)

// ErrArmor reports a file that is not a well-formed armored document.
var ErrArmor = errors.New("malformed armored file")

// ErrFileTooLarge reports a file over limits.MaxAirgapFileBytes.
var ErrFileTooLarge = errors.New("file too large")

// armorWidth is the body line length.
const armorWidth = 64

var labels = map[token.Kind]string{
	token.KindActivationRequest: "ACTIVATION REQUEST",
	token.KindActivationKey:     "ACTIVATION KEY",
	token.KindUsageReceipt:      "USAGE RECEIPT",
}

// Armor wraps a signed document's text as a file of kind k.
func Armor(k token.Kind, text string) ([]byte, error) {
	label, ok := labels[k]
	if !ok {
		return nil, fmt.Errorf("%w: no file form for %s documents", ErrArmor, k)
	}
	var b bytes.Buffer
	b.WriteString("-----BEGIN TOLLGATE " + label + "-----\n")
	for len(text) > armorWidth {
		b.WriteString(text[:armorWidth])
		b.WriteByte('\n')
		text = text[armorWidth:]
	}
	b.WriteString(text)
	b.WriteString("\n-----END TOLLGATE " + label + "-----\n")
	if b.Len() > limits.MaxAirgapFileBytes {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrFileTooLarge, b.Len(), limits.MaxAirgapFileBytes)
	}
	return b.Bytes(), nil
}

// Dearmor returns the kind and document text of an armored file. It checks
// the frame only; the caller parses and verifies the document.
func Dearmor(data []byte) (token.Kind, string, error) {
	if len(data) > limits.MaxAirgapFileBytes {
		return 0, "", fmt.Errorf("%w: %d bytes, at most %d", ErrFileTooLarge, len(data), limits.MaxAirgapFileBytes)
	}
	s := string(data)
	eol := "\n"
	if strings.Contains(s, "\r") {
		eol = "\r\n"
		if strings.Count(s, "\r") != strings.Count(s, "\n") || strings.Contains(strings.ReplaceAll(s, "\r\n", ""), "\r") {
			return 0, "", fmt.Errorf("%w: mixed line endings", ErrArmor)
		}
	}
	body, ok := strings.CutSuffix(s, eol)
	if !ok {
		return 0, "", fmt.Errorf("%w: truncated (no final line ending)", ErrArmor)
	}
	lines := strings.Split(body, eol)
	if len(lines) < 3 {
		return 0, "", fmt.Errorf("%w: want a header, a body and a footer", ErrArmor)
	}
	kind, label, err := header(lines[0])
	if err != nil {
		return 0, "", err
	}
	if lines[len(lines)-1] != "-----END TOLLGATE "+label+"-----" {
		return 0, "", fmt.Errorf("%w: footer does not match %q (file truncated?)", ErrArmor, label)
	}
	var text strings.Builder
	bodyLines := lines[1 : len(lines)-1]
	for i, l := range bodyLines {
		if l == "" || len(l) > armorWidth || i < len(bodyLines)-1 && len(l) != armorWidth {
			return 0, "", fmt.Errorf("%w: body line %d has %d characters", ErrArmor, i+1, len(l))
		}
		for j := 0; j < len(l); j++ {
			if c := l[j]; !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
				return 0, "", fmt.Errorf("%w: body line %d has %q", ErrArmor, i+1, c)
			}
		}
		text.WriteString(l)
	}
	return kind, text.String(), nil
}

func header(line string) (token.Kind, string, error) {
	label, ok := strings.CutPrefix(line, "-----BEGIN TOLLGATE ")
	if ok {
		label, ok = strings.CutSuffix(label, "-----")
	}
	if !ok {
		return 0, "", fmt.Errorf("%w: first line is not a Tollgate header", ErrArmor)
	}
	for k, l := range labels {
		if l == label {
			return k, label, nil
		}
	}
	return 0, "", fmt.Errorf("%w: unknown file kind %q", ErrArmor, label)
}
