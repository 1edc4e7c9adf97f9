package console

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/tollgate-iot/tollgate/server/internal/api"
	"github.com/tollgate-iot/tollgate/server/internal/ledger"
)

// The sales, audit and customers pages call what GET /v1/sales, GET
// /v1/audit and GET /v1/customers call, as the signed-in actor, so they
// show exactly the records the actor's API key would get.

// MaxCustomersShown bounds the customers page's tree; past it the page
// says so and tollgatectl lists the rest.
const MaxCustomersShown = 1000

// formQuery keeps the named parameters that are not empty (an empty form
// field is no filter) and returns them, and a copy of r whose query holds
// them and the cursor, for the API's parser.
func formQuery(r *http.Request, names ...string) (url.Values, *http.Request) {
	q := url.Values{}
	for _, k := range names {
		if v := r.URL.Query().Get(k); v != "" {
			q.Set(k, v)
		}
	}
	cq := url.Values{}
	for k, v := range q {
		cq[k] = v
	}
	if cur := r.URL.Query().Get("cursor"); cur != "" {
		cq.Set("cursor", cur)
	}
	clean := r.Clone(r.Context())
	clean.URL.RawQuery = cq.Encode()
	return q, clean
}

// pageLinks are a list's next-page and first-page links ("" for none).
func pageLinks(path string, q url.Values, cursor, next string) (nextLink, firstLink string) {
	if cursor != "" {
		firstLink = Prefix + path + "?" + q.Encode()
	}
	if next != "" {
		nq := url.Values{}
		for k, v := range q {
			nq[k] = v
		}
		nq.Set("cursor", api.EncodeCursor(next))
		nextLink = Prefix + path + "?" + nq.Encode()
	}
	return nextLink, firstLink
}

type salesData struct {
	Sales       []ledger.Sale
	Query       url.Values
	Methods     []string
	Next, First string
}

func (c *Console) sales(w http.ResponseWriter, r *http.Request, s *ledger.Session) {
	q, clean := formQuery(r, "from", "to", "license", "method")
	f, err := api.SaleFilterOf(clean)
	if err != nil {
		c.failErr(w, r, s, err)
		return
	}
	ss, next, err := c.lg.ListSales(r.Context(), s.Actor, f)
	if err != nil {
		c.failErr(w, r, s, err)
		return
	}
	d := salesData{Sales: ss, Query: q, Methods: ledger.SaleKinds}
	d.Next, d.First = pageLinks("sales", q, f.Cursor, next)
	c.render(w, http.StatusOK, "sales", page{Title: "Sales records", Session: s, Data: d})
}

type auditData struct {
	Entries     []ledger.AuditEntry
	Next, First string
}

func (c *Console) audit(w http.ResponseWriter, r *http.Request, s *ledger.Session) {
	q, clean := formQuery(r, "limit")
	limit, cursor, err := api.AuditPageOf(clean)
	if err != nil {
		c.failErr(w, r, s, err)
		return
	}
	es, next, err := c.lg.ListAudit(r.Context(), s.Actor, cursor, limit)
	if err != nil {
		c.failErr(w, r, s, err)
		return
	}
	d := auditData{Entries: es}
	d.Next, d.First = pageLinks("audit", q, cursor, next)
	c.render(w, http.StatusOK, "audit", page{Title: "Audit", Session: s, Data: d})
}

// custNode is a customer and the customers below it that the actor sees.
type custNode struct {
	Customer ledger.Customer
	Kids     []*custNode
}

type customersData struct {
	Roots []*custNode
	Count int
	// More says the tree was cut at MaxCustomersShown.
	More bool
}

func (c *Console) customers(w http.ResponseWriter, r *http.Request, s *ledger.Session) {
	all, more, err := c.subtree(r.Context(), s.Actor)
	if err != nil {
		c.failErr(w, r, s, err)
		return
	}
	c.render(w, http.StatusOK, "customers", page{Title: "Customers", Session: s, Data: customersData{Roots: customerTree(all), Count: len(all), More: more}})
}

// customerTree arranges customers under their parents, each level by id;
// a customer whose parent is not among them is a root of the tree.
func customerTree(cs []ledger.Customer) []*custNode {
	// "\x00" sorts before every id character, so a parent's subtree
	// follows it without another customer's in between.
	key := func(c ledger.Customer) string { return strings.Join(append(slices.Clone(c.Path), c.ID), "\x00") }
	slices.SortFunc(cs, func(a, b ledger.Customer) int { return strings.Compare(key(a), key(b)) })
	nodes := make(map[string]*custNode, len(cs))
	var roots []*custNode
	for _, c := range cs {
		n := &custNode{Customer: c}
		nodes[c.ID] = n
		if p, ok := nodes[c.ParentID]; ok {
			p.Kids = append(p.Kids, n)
		} else {
			roots = append(roots, n)
		}
	}
	return roots
}
