package tagset

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// podinfo is a tag list as a registry serves it: byte order, floating tags, pre-releases.
var podinfo = []string{
	"6.10.0", "6.10.1", "6.3.6", "6.4.0", "6.4.1", "6.5.0-rc.1", "6.5.0", "6.9.0", "6.9.2",
	"7.0.0-beta.1", "7.0.0-rc.1", "latest", "6", "6.4", "sha256-0d1c.sig",
}

func TestSelect(t *testing.T) {
	for _, c := range []struct {
		name     string
		criteria Criteria
		tags     []string
		want     []string
	}{
		{
			name: "no criteria keeps every tag in byte order when some are not semver",
			tags: []string{"b", "a", "1.0.0", "10", "9"},
			want: []string{"1.0.0", "10", "9", "a", "b"},
		},
		{
			name: "semver order when every tag is semver: 6.9.0 < 6.10.0",
			tags: []string{"6.10.0", "6.9.0", "6.10.1", "6.2.10", "6.2.9"},
			want: []string{"6.2.9", "6.2.10", "6.9.0", "6.10.0", "6.10.1"},
		},
		{
			name:     "a constraint drops non-semver tags and pre-releases",
			criteria: Criteria{Semver: ">= 6.4.0, < 7"},
			tags:     podinfo,
			want:     []string{"6.4.0", "6.4.1", "6.5.0", "6.9.0", "6.9.2", "6.10.0", "6.10.1"},
		},
		{
			name:     "a constraint that names a pre-release keeps pre-releases, in semver order",
			criteria: Criteria{Semver: ">= 6.5.0-0"},
			tags:     podinfo,
			want:     []string{"6.5.0-rc.1", "6.5.0", "6.9.0", "6.9.2", "6.10.0", "6.10.1", "7.0.0-beta.1", "7.0.0-rc.1"},
		},
		{
			name:     "pre-releases without a constraint sort before their release",
			criteria: Criteria{Include: []string{`^7\.`, `^6\.5\.`}},
			tags:     append(slices.Clone(podinfo), "7.0.0", "7.0.0-rc.10", "7.0.0-rc.2"),
			want:     []string{"6.5.0-rc.1", "6.5.0", "7.0.0-beta.1", "7.0.0-rc.1", "7.0.0-rc.2", "7.0.0-rc.10", "7.0.0"},
		},
		{
			name:     "leading v: kept, ordered by version; v1.2.0 and 1.2.0 are equal versions, ordered by bytes",
			criteria: Criteria{Semver: "^1"},
			tags:     []string{"v1.10.0", "v1.9.0", "1.2.0", "v1.2.0", "V1.3.0", "vv1.4.0", "version"},
			want:     []string{"1.2.0", "v1.2.0", "v1.9.0", "v1.10.0"},
		},
		{
			name:     "include keeps tags matching one pattern, exclude drops tags matching any",
			criteria: Criteria{Include: []string{`^6\.4`, `^6\.10\.`}, Exclude: []string{`^6\.4$`, `\.1$`}},
			tags:     podinfo,
			want:     []string{"6.4.0", "6.10.0"},
		},
		{
			name:     "exclude pre-releases by pattern, without a constraint",
			criteria: Criteria{Include: []string{`^6\.`}, Exclude: []string{"-rc", "-beta"}},
			tags:     podinfo,
			want:     []string{"6.10.0", "6.10.1", "6.3.6", "6.4", "6.4.0", "6.4.1", "6.5.0", "6.9.0", "6.9.2"},
		},
		{
			name:     "newest keeps the highest versions",
			criteria: Criteria{Semver: "6.x", Newest: 3},
			tags:     podinfo,
			want:     []string{"6.9.2", "6.10.0", "6.10.1"},
		},
		{
			name:     "newest with pre-releases kept by the patterns",
			criteria: Criteria{Include: []string{`^7\.`}, Newest: 1},
			tags:     podinfo,
			want:     []string{"7.0.0-rc.1"},
		},
		{
			name:     "newest larger than the selection keeps it whole",
			criteria: Criteria{Semver: "~6.4", Newest: 10},
			tags:     podinfo,
			want:     []string{"6.4.0", "6.4.1"},
		},
		{
			name:     "nothing selected is an empty list",
			criteria: Criteria{Semver: ">= 8", Newest: 2},
			tags:     podinfo,
			want:     []string{},
		},
		{
			name: "duplicates appear once",
			tags: []string{"1.0.0", "1.0.0", "0.9.0"},
			want: []string{"0.9.0", "1.0.0"},
		},
		{
			name:     "semver needs all three numbers and no leading zeros",
			criteria: Criteria{Semver: "*"},
			tags:     []string{"1", "1.2", "1.02.3", "1.2.3", "1.2.3.4", "01.2.3"},
			want:     []string{"1.2.3"},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := New(c.criteria)
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.Select(c.tags)
			if err != nil {
				t.Fatal(err)
			}
			if got == nil || !slices.Equal(got, c.want) {
				t.Errorf("Select = %q, want %q", got, c.want)
			}
		})
	}
}

func TestSelectNewestNeedsSemver(t *testing.T) {
	s, err := New(Criteria{Include: []string{`^6`, "latest", "^sha256-"}, Newest: 2})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Select(append(slices.Clone(podinfo), "6.1", "6.2", "6.3", "6.5"))
	var nse *NotSemverError
	if !errors.As(err, &nse) {
		t.Fatalf("Select = %v, want a *NotSemverError", err)
	}
	if want := []string{"6", "6.1", "6.2", "6.3", "6.4"}; !slices.Equal(nse.Tags, want) || nse.Count != 8 || nse.Selected != 17 {
		t.Errorf("NotSemverError names %q, %d of %d; want %q, 8 of 17", nse.Tags, nse.Count, nse.Selected, want)
	}
	for _, phrase := range []string{`8 of the 17 selected tags`, `"6", "6.1", "6.2", "6.3", "6.4" and 3 more`, "semver constraint", "exclude"} {
		if !strings.Contains(err.Error(), phrase) {
			t.Errorf("error %q does not say %q", err, phrase)
		}
	}

	// Without newest the same selection is fine: byte order.
	s, err = New(Criteria{Include: []string{`^6`, "latest"}})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.Select(podinfo); err != nil || got[0] != "6" || got[len(got)-1] != "latest" {
		t.Errorf("Select = %q, %v; want byte order from 6 to latest", got, err)
	}
}

func TestCriteriaErrors(t *testing.T) {
	for _, c := range []struct {
		criteria      Criteria
		field, phrase string
		index         int
	}{
		{Criteria{Semver: ">= 6.4.0 <"}, FieldSemver, `semver ">= 6.4.0 <" is not a valid constraint`, 0},
		{Criteria{Semver: "six"}, FieldSemver, "such as", 0},
		{Criteria{Semver: " "}, FieldSemver, `semver " " is empty`, 0},
		{Criteria{Include: []string{"^6", "6.("}}, FieldInclude, `include[1] "6.(" is not a valid RE2 regular expression`, 1},
		{Criteria{Exclude: []string{`(?<=x)`}}, FieldExclude, `exclude[0] "(?<=x)"`, 0},
		{Criteria{Newest: -1}, FieldNewest, "newest = -1 keeps no tag", 0},
	} {
		_, err := New(c.criteria)
		var ce *CriteriaError
		if !errors.As(err, &ce) || ce.Field != c.field || ce.Index != c.index {
			t.Errorf("New(%+v) = %v, want a *CriteriaError for %s[%d]", c.criteria, err, c.field, c.index)
			continue
		}
		if !strings.Contains(err.Error(), c.phrase) {
			t.Errorf("error %q does not say %q", err, c.phrase)
		}
	}
}

func TestChecks(t *testing.T) {
	for _, ok := range []string{">= 6.4.0, < 7", "~6.4", "^1.2 || ^2", "6.x", "*", ">= 7.0.0-0"} {
		if err := CheckConstraint(ok); err != nil {
			t.Errorf("CheckConstraint(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "latest", ">= 6.4.0 <", "1.0.0 -"} {
		if err := CheckConstraint(bad); err == nil {
			t.Errorf("CheckConstraint(%q) accepted it", bad)
		}
	}
	if err := CheckPattern(FieldExclude, 2, `-rc\.\d+$`); err != nil {
		t.Error(err)
	}
	if err := CheckPattern(FieldExclude, 2, `[`); err == nil || !strings.HasPrefix(err.Error(), `exclude[2] "["`) {
		t.Errorf("CheckPattern([) = %v", err)
	}
	if err := CheckNewest(1); err != nil {
		t.Error(err)
	}
	if err := CheckNewest(0); err == nil || err.Error() != "newest = 0 keeps no tag; write a count of 1 or more, or leave newest out to keep every selected tag" {
		t.Errorf("CheckNewest(0) = %v", err)
	}
}
