// Package tagset selects tags of a repository, as a release train is followed: a semantic
// version constraint, include and exclude patterns, and a count of the newest tags to keep. It
// orders what it keeps: by semantic version when every kept tag is one, else byte by byte.
// It reads nothing: callers pass the tag list (a registry's, or an OCI image layout's ref names).
package tagset

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/Masterminds/semver/v3"
)

// Criteria say which tags to keep. The zero value keeps every tag.
type Criteria struct {
	// Semver is a constraint in github.com/Masterminds/semver/v3 syntax (">= 6.4.0, < 7",
	// "~6.4", "^1.2 || ^2"); empty for none. With a constraint, tags that are not semantic
	// versions are dropped, and pre-releases are kept only when the constraint names one (a
	// comparator with a pre-release, as in ">= 7.0.0-0").
	Semver string
	// Include keeps only the tags that match at least one of these RE2 patterns; empty keeps
	// every tag.
	Include []string
	// Exclude drops the tags that match any of these RE2 patterns.
	Exclude []string
	// Newest keeps the Newest highest versions of what the other criteria keep; 0 keeps all.
	// It needs every kept tag to be a semantic version.
	Newest int
}

// Field names a criterion in errors, as the zarf_image_tags data source names its arguments.
const (
	FieldSemver  = "semver"
	FieldInclude = "include"
	FieldExclude = "exclude"
	FieldNewest  = "newest"
)

// CriteriaError is a criterion that cannot be used, found before any tag is read.
type CriteriaError struct {
	Field  string // FieldSemver, FieldInclude, FieldExclude or FieldNewest
	Index  int    // the position of the pattern in Include or Exclude; 0 for other fields
	Value  string
	Reason string
}

func (e *CriteriaError) Error() string {
	where := e.Field
	if e.Field == FieldInclude || e.Field == FieldExclude {
		where = fmt.Sprintf("%s[%d]", e.Field, e.Index)
	}
	return fmt.Sprintf("%s %s %s", where, e.Value, e.Reason)
}

// NotSemverError is a selection with Newest whose kept tags are not all semantic versions, so
// that "newest" has no meaning.
type NotSemverError struct {
	Tags     []string // a few of the tags that are not semantic versions, in byte order
	Count    int      // how many of the kept tags are not
	Selected int      // how many tags were kept before Newest
}

// notSemverShown bounds how many offending tags an error names.
const notSemverShown = 5

func (e *NotSemverError) Error() string {
	quoted := make([]string, len(e.Tags))
	for i, t := range e.Tags {
		quoted[i] = fmt.Sprintf("%q", t)
	}
	more := ""
	if e.Count > len(e.Tags) {
		more = fmt.Sprintf(" and %d more", e.Count-len(e.Tags))
	}
	return fmt.Sprintf("newest orders tags by semantic version, but %d of the %d selected tags are not semantic versions "+
		"(MAJOR.MINOR.PATCH, optionally with a leading v and a -pre-release): %s%s. Drop them with a semver "+
		"constraint (it keeps semantic versions only), for instance semver = \">= 0.0.0\", or with exclude patterns",
		e.Count, e.Selected, strings.Join(quoted, ", "), more)
}

// CheckConstraint reports whether s is a usable semver constraint, as a *CriteriaError.
func CheckConstraint(s string) error {
	_, err := parseConstraint(s)
	return err
}

// CheckPattern reports whether p, the index-th pattern of field (FieldInclude or
// FieldExclude), is a valid RE2 pattern, as a *CriteriaError.
func CheckPattern(field string, index int, p string) error {
	_, err := compilePattern(field, index, p)
	return err
}

// CheckNewest reports whether n is a usable count of newest tags, as a *CriteriaError.
func CheckNewest(n int64) error {
	if n < 1 {
		return &CriteriaError{Field: FieldNewest, Value: fmt.Sprintf("= %d", n),
			Reason: "keeps no tag; write a count of 1 or more, or leave newest out to keep every selected tag"}
	}
	return nil
}

func parseConstraint(s string) (*semver.Constraints, error) {
	bad := func(reason string) error {
		return &CriteriaError{Field: FieldSemver, Value: fmt.Sprintf("%q", s), Reason: reason}
	}
	if strings.TrimSpace(s) == "" {
		return nil, bad("is empty; write a constraint such as \">= 6.4.0, < 7\", or leave semver out")
	}
	c, err := semver.NewConstraint(s)
	if err != nil {
		return nil, bad(fmt.Sprintf("is not a valid constraint (%v); write comparisons joined by commas (and) or || (or), "+
			"such as \">= 6.4.0, < 7\", \"~6.4\" or \"^1.2 || ^2\"", err))
	}
	return c, nil
}

func compilePattern(field string, index int, p string) (*regexp.Regexp, error) {
	re, err := regexp.Compile(p)
	if err != nil {
		return nil, &CriteriaError{Field: field, Index: index, Value: fmt.Sprintf("%q", p),
			Reason: fmt.Sprintf("is not a valid RE2 regular expression (%v); escape characters that have a meaning, "+
				"as in \"^6\\\\.4\\\\.\" for a literal \"6.4.\"", err)}
	}
	return re, nil
}

func compilePatterns(field string, patterns []string) ([]*regexp.Regexp, error) {
	out := make([]*regexp.Regexp, len(patterns))
	for i, p := range patterns {
		var err error
		if out[i], err = compilePattern(field, i, p); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Selector applies compiled Criteria. It is safe for concurrent use.
type Selector struct {
	constraint       *semver.Constraints // nil without Semver
	include, exclude []*regexp.Regexp
	newest           int
}

// New checks c and compiles it. Errors are *CriteriaError.
func New(c Criteria) (*Selector, error) {
	s := &Selector{newest: c.Newest}
	var err error
	if c.Semver != "" {
		if s.constraint, err = parseConstraint(c.Semver); err != nil {
			return nil, err
		}
	}
	if s.include, err = compilePatterns(FieldInclude, c.Include); err != nil {
		return nil, err
	}
	if s.exclude, err = compilePatterns(FieldExclude, c.Exclude); err != nil {
		return nil, err
	}
	if c.Newest != 0 {
		if err := CheckNewest(int64(c.Newest)); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// tag is a tag with its semantic version; v is nil when it is not one.
type tag struct {
	name string
	v    *semver.Version
}

// parseTag reads a tag as a semantic version when it is one: MAJOR.MINOR.PATCH with an
// optional -pre-release, optionally after a leading "v". Shorter forms ("1.27", "6") are the
// floating tags registries keep beside releases, and are not versions here.
func parseTag(name string) tag {
	v, err := semver.StrictNewVersion(strings.TrimPrefix(name, "v"))
	if err != nil {
		return tag{name: name}
	}
	return tag{name: name, v: v}
}

// keeps reports whether t passes the patterns and the constraint.
func (s *Selector) keeps(t tag) bool {
	if len(s.include) > 0 && !slices.ContainsFunc(s.include, func(re *regexp.Regexp) bool { return re.MatchString(t.name) }) {
		return false
	}
	if slices.ContainsFunc(s.exclude, func(re *regexp.Regexp) bool { return re.MatchString(t.name) }) {
		return false
	}
	return s.constraint == nil || (t.v != nil && s.constraint.Check(t.v))
}

// Select returns the tags that the criteria keep, each once, ascending: by semantic version
// when every kept tag is one (equal versions, such as 1.2.0 and v1.2.0, by bytes), else byte by
// byte. With Newest, only the Newest highest are returned; it fails with a *NotSemverError
// when a kept tag is not a semantic version.
func (s *Selector) Select(tags []string) ([]string, error) {
	var kept []tag
	var notSemver []string
	seen := make(map[string]bool, len(tags))
	for _, name := range tags {
		if seen[name] {
			continue
		}
		seen[name] = true
		t := parseTag(name)
		if !s.keeps(t) {
			continue
		}
		kept = append(kept, t)
		if t.v == nil {
			notSemver = append(notSemver, name)
		}
	}
	if len(notSemver) > 0 {
		if s.newest > 0 {
			slices.Sort(notSemver)
			return nil, &NotSemverError{Tags: notSemver[:min(len(notSemver), notSemverShown)], Count: len(notSemver), Selected: len(kept)}
		}
		slices.SortFunc(kept, func(a, b tag) int { return strings.Compare(a.name, b.name) })
	} else {
		slices.SortFunc(kept, func(a, b tag) int { return cmp.Or(a.v.Compare(b.v), strings.Compare(a.name, b.name)) })
	}
	if s.newest > 0 && len(kept) > s.newest {
		kept = kept[len(kept)-s.newest:]
	}
	out := make([]string, len(kept))
	for i, t := range kept {
		out[i] = t.name
	}
	return out, nil
}
