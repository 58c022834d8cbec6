package callbacks_test

import (
	"fmt"
	"net/url"

	"github.com/tulpar-switch/tulpar/switch/callbacks"
)

// A merchant's handler checks a callback before trusting it.
func ExampleVerify() {
	q, _ := url.ParseQuery("mdOrder=0190f3a2-7b1c-7d2e-9f00-4a5b6c7d8e9f&orderNumber=A-1001" +
		"&operation=deposited&status=1&amount=150000" +
		"&checksum=599CF51DF8953CCAB28A7B618CE9CDC45EF74ACBB5ED6AE48EB242D374127611")
	params := map[string]string{}
	for name := range q {
		params[name] = q.Get(name)
	}
	fmt.Println(callbacks.Verify(params, "tulpar-test-secret"))
	params["amount"] = "1500000"
	fmt.Println(callbacks.Verify(params, "tulpar-test-secret"))
	// Output:
	// true
	// false
}
