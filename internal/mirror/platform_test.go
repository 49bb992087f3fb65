package mirror

import (
	"strings"
	"testing"
)

func TestParsePlatform(t *testing.T) {
	valid := []struct {
		in   string
		want Platform
	}{
		{"linux/amd64", Platform{OS: "linux", Architecture: "amd64"}},
		{"linux/arm64/v8", Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}},
		{"linux/arm/v7", Platform{OS: "linux", Architecture: "arm", Variant: "v7"}},
		{"windows/amd64", Platform{OS: "windows", Architecture: "amd64"}},
	}
	for _, tc := range valid {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParsePlatform(tc.in)
			if err != nil {
				t.Fatalf("ParsePlatform(%q): %v", tc.in, err)
			}
			if got != tc.want {
				t.Fatalf("ParsePlatform(%q) = %+v, want %+v", tc.in, got, tc.want)
			}
			if got.String() != tc.in {
				t.Fatalf("String() = %q, want %q", got.String(), tc.in)
			}
		})
	}
	malformed := []string{
		"", "linux", "linux/", "/amd64", "/", "//", "a/b/c/d", "linux/arm//", "linux//v7",
		" linux/amd64", "linux/amd64 ", "linux/ amd64", "linux /amd64", "linux/am d64", "linux/amd64\t",
		"linux/arm/ v7", "linux:latest/amd64", "linux/amd64@sha256",
	}
	for _, in := range malformed {
		t.Run("malformed "+in, func(t *testing.T) {
			p, err := ParsePlatform(in)
			if err == nil {
				t.Fatalf("ParsePlatform(%q) = %+v, want an error", in, p)
			}
			if !strings.Contains(err.Error(), "os/arch") {
				t.Fatalf("error %q does not say what a platform looks like", err)
			}
		})
	}
}

func TestPlatformMatches(t *testing.T) {
	cases := []struct {
		selector, image string
		want            bool
	}{
		{"linux/amd64", "linux/amd64", true},
		{"linux/arm64", "linux/arm64/v8", true},
		{"linux/arm64/v8", "linux/arm64", true},
		{"linux/arm64/v8", "linux/arm64/v8", true},
		{"linux/arm64", "linux/arm64", true},
		{"linux/arm64/v9", "linux/arm64", false},
		{"linux/arm64", "linux/arm64/v9", true}, // no variant: every variant
		{"linux/arm", "linux/arm/v5", true},
		{"linux/arm", "linux/arm/v6", true},
		{"linux/arm", "linux/arm/v7", true},
		{"linux/arm", "linux/arm", true},
		{"linux/arm/v7", "linux/arm/v7", true},
		{"linux/arm/v7", "linux/arm/v6", false},
		{"linux/arm/v6", "linux/arm/v7", false},
		{"linux/arm/v7", "linux/arm", false},
		{"linux/amd64", "windows/amd64", false},
		{"windows/amd64", "linux/amd64", false},
		{"linux/amd64", "linux/arm64", false},
		{"linux/amd64", "unknown/unknown", false},
	}
	for _, tc := range cases {
		t.Run(tc.selector+" vs "+tc.image, func(t *testing.T) {
			sel, err := ParsePlatform(tc.selector)
			if err != nil {
				t.Fatal(err)
			}
			img, err := ParsePlatform(tc.image)
			if err != nil {
				t.Fatal(err)
			}
			if got := sel.Matches(img); got != tc.want {
				t.Fatalf("%s.Matches(%s) = %v, want %v", tc.selector, tc.image, got, tc.want)
			}
		})
	}
}

func TestPlatformString(t *testing.T) {
	if s := (Platform{}).String(); s != "" {
		t.Fatalf("empty platform formats as %q", s)
	}
	if (Platform{OS: "unknown", Architecture: "unknown"}).isKnown() {
		t.Fatal("unknown/unknown counts as a platform")
	}
	if !(Platform{OS: "linux", Architecture: "amd64"}).isKnown() {
		t.Fatal("linux/amd64 does not count as a platform")
	}
}

func FuzzParsePlatform(f *testing.F) {
	for _, s := range []string{"linux/amd64", "linux/arm/v7", "linux/arm64/v8", "linux", "linux/", "/amd64", "a/b/c/d", " linux/amd64", "", "//", "linux/arm/v7/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePlatform(s)
		if err != nil {
			return
		}
		// A parsed platform formats back to its input and matches itself.
		if p.String() != s {
			t.Fatalf("ParsePlatform(%q).String() = %q", s, p.String())
		}
		if !p.Matches(p) {
			t.Fatalf("%q does not match itself", s)
		}
		again, err := ParsePlatform(p.String())
		if err != nil || again != p {
			t.Fatalf("round trip of %q: %+v, %v", s, again, err)
		}
	})
}
