package cnp

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Limits on what a request's XML may be. A request the vendor's clients
// send is a few kilobytes and six levels deep; anything far beyond is a
// mistake or an attack, refused before it costs anything.
const (
	maxDepth    = 24   // element nesting, Envelope included
	maxElements = 5000 // elements in one request
	maxAttrs    = 32   // attributes (namespace declarations included) on one element
	maxRefs     = 100  // multi-reference hrefs resolved in one request
	maxRefSize  = 64   // elements under one multi-reference target
)

// node is one element of a request: its name with the namespace resolved,
// its attributes, its text and its child elements. Requests are small and
// bounded, so a tree is the simplest faithful reading, and it lets every
// check (unknown element, duplicate, nil, multi-reference) be exact.
type node struct {
	name  xml.Name
	attrs []xml.Attr
	text  string
	kids  []*node
}

// Namespaces the service reads and writes.
const (
	nsSOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
	nsSOAP12 = "http://www.w3.org/2003/05/soap-envelope"
	nsXSI    = "http://www.w3.org/2001/XMLSchema-instance"
	// nsOps is the wrappers' and their direct children's namespace.
	nsOps = "http://kz.processing.cnp.merchant_ws/xsd"
	// nsBeans is the namespace of the members of the common beans
	// (TransactionDetails, GoodsItem, StoredTransactionStatus...).
	nsBeans = "http://beans.common.cnp.processing.kz/xsd"
	// nsResults is the members' namespace of StartTransactionResult.
	nsResults = "http://beans.merchant_web_services.cnp.processing.kz/xsd"
)

// errXML is wrapped by every refusal of a request's XML itself.
var errXML = errors.New("malformed XML")

// parseXML reads one XML document into a tree. It refuses a DTD (and with
// it every entity expansion: encoding/xml knows no entities but XML's five
// and character references), encodings other than UTF-8, and documents
// deeper, wider or larger in elements than the limits above; the reader
// is already bounded in bytes by the caller.
func parseXML(r io.Reader) (*node, error) {
	d := xml.NewDecoder(r)
	d.Strict = true
	d.CharsetReader = func(label string, _ io.Reader) (io.Reader, error) {
		return nil, fmt.Errorf("encoding %q: only UTF-8 is accepted", label)
	}
	var root *node
	var stack []*node
	var text []bytes.Buffer
	elements := 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %w", errXML, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if root != nil && len(stack) == 0 {
				return nil, fmt.Errorf("%w: more than one root element", errXML)
			}
			if elements++; elements > maxElements {
				return nil, fmt.Errorf("%w: more than %d elements", errXML, maxElements)
			}
			if len(stack) >= maxDepth {
				return nil, fmt.Errorf("%w: elements nested deeper than %d", errXML, maxDepth)
			}
			if len(t.Attr) > maxAttrs {
				return nil, fmt.Errorf("%w: element %s has more than %d attributes", errXML, t.Name.Local, maxAttrs)
			}
			n := &node{name: t.Name, attrs: t.Copy().Attr}
			if len(stack) == 0 {
				root = n
			} else {
				p := stack[len(stack)-1]
				p.kids = append(p.kids, n)
			}
			stack = append(stack, n)
			text = append(text, bytes.Buffer{})
		case xml.EndElement:
			n := stack[len(stack)-1]
			n.text = text[len(text)-1].String()
			stack, text = stack[:len(stack)-1], text[:len(text)-1]
		case xml.CharData:
			if len(stack) == 0 {
				if len(bytes.TrimSpace(t)) > 0 {
					return nil, fmt.Errorf("%w: text outside the root element", errXML)
				}
				continue
			}
			text[len(text)-1].Write(t)
		case xml.Directive:
			// <!DOCTYPE ...> and friends: SOAP forbids a DTD, and refusing
			// it outright closes the door on entity tricks.
			return nil, fmt.Errorf("%w: a DTD or other <!...> declaration is not allowed", errXML)
		case xml.ProcInst, xml.Comment:
		}
	}
	if root == nil {
		return nil, fmt.Errorf("%w: no root element", errXML)
	}
	return root, nil
}

// attr returns the value of the attribute named local in namespace space
// ("" for an unqualified one).
func (n *node) attr(space, local string) (string, bool) {
	for _, a := range n.attrs {
		if a.Name.Local == local && a.Name.Space == space {
			return a.Value, true
		}
	}
	return "", false
}

// isNil reports xsi:nil="true" (or "1"): the vendor's PHP client sends
// every unset field so, and nil means absent.
func (n *node) isNil() bool {
	v, ok := n.attr(nsXSI, "nil")
	v = strings.TrimSpace(v)
	return ok && (v == "true" || v == "1")
}

// resolveRefs replaces each element carrying href="#id" by the content of
// the element carrying id="id", as PHP's SoapClient writes the same object
// put twice into a list. The target must hold no references itself and
// must not contain the element referring to it, so the result stays a
// tree walked in bounded time.
func resolveRefs(root *node) error {
	ids := map[string]*node{}
	var refs []*node
	var collect func(n *node)
	collect = func(n *node) {
		if id, ok := n.attr("", "id"); ok && id != "" {
			ids[id] = n
		}
		if _, ok := n.attr("", "href"); ok {
			refs = append(refs, n)
		}
		for _, k := range n.kids {
			collect(k)
		}
	}
	collect(root)
	if len(refs) == 0 {
		return nil
	}
	if len(refs) > maxRefs {
		return fmt.Errorf("%w: more than %d href references", errXML, maxRefs)
	}
	for _, n := range refs {
		href, _ := n.attr("", "href")
		target, ok := ids[strings.TrimPrefix(href, "#")]
		switch {
		case !strings.HasPrefix(href, "#") || !ok:
			return fmt.Errorf("%w: %s href=%q names no element of the request", errXML, n.name.Local, href)
		case len(n.kids) > 0 || strings.TrimSpace(n.text) != "":
			return fmt.Errorf("%w: %s has both href and content", errXML, n.name.Local)
		case hasRef(target) || contains(target, n):
			return fmt.Errorf("%w: %s href=%q points at an element that refers further or contains it", errXML, n.name.Local, href)
		case count(target) > maxRefSize:
			return fmt.Errorf("%w: %s href=%q points at more than %d elements", errXML, n.name.Local, href, maxRefSize)
		}
		n.kids, n.text = target.kids, target.text
	}
	return nil
}

func hasRef(n *node) bool {
	if _, ok := n.attr("", "href"); ok {
		return true
	}
	for _, k := range n.kids {
		if hasRef(k) {
			return true
		}
	}
	return false
}

func contains(n, x *node) bool {
	if n == x {
		return true
	}
	for _, k := range n.kids {
		if contains(k, x) {
			return true
		}
	}
	return false
}

func count(n *node) int {
	c := 1
	for _, k := range n.kids {
		c += count(k)
	}
	return c
}
