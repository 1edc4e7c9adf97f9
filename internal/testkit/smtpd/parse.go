package smtpd

import (
	"bytes"
	"encoding/base64"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"testing"
)

// Parts is a received message read back: its header, text and HTML
// bodies and attachments by file name.
type Parts struct {
	Header     mail.Header
	Text, HTML string
	Files      map[string]string
}

// Parse reads a message with the standard library's MIME readers (not the
// sender's), walking nested multiparts.
func Parse(t testing.TB, raw []byte) Parts {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	out := Parts{Header: m.Header, Files: map[string]string{}}
	var walk func(ct string, body io.Reader, disp, enc string)
	walk = func(ct string, body io.Reader, disp, enc string) {
		mt, params, err := mime.ParseMediaType(ct)
		if err != nil {
			t.Fatalf("content type %q: %v", ct, err)
		}
		if strings.HasPrefix(mt, "multipart/") {
			r := multipart.NewReader(body, params["boundary"])
			for {
				p, err := r.NextRawPart()
				if err == io.EOF {
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				walk(p.Header.Get("Content-Type"), p, p.Header.Get("Content-Disposition"), p.Header.Get("Content-Transfer-Encoding"))
			}
		}
		b := decode(t, body, enc)
		_, dp, _ := mime.ParseMediaType(disp)
		switch {
		case dp["filename"] != "":
			out.Files[dp["filename"]] = b
		case mt == "text/plain":
			out.Text = b
		case mt == "text/html":
			out.HTML = b
		}
	}
	walk(m.Header.Get("Content-Type"), m.Body, m.Header.Get("Content-Disposition"), m.Header.Get("Content-Transfer-Encoding"))
	return out
}

func decode(t testing.TB, r io.Reader, enc string) string {
	t.Helper()
	switch strings.ToLower(enc) {
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, r)
	case "quoted-printable":
		r = quotedprintable.NewReader(r)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
