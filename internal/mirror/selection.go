package mirror

import (
	"errors"
	"slices"
	"sort"
	"sync"
)

// selector decides which image entries are kept and remembers what the source lists.
type selector struct {
	platforms    []Platform
	requested    []string
	matched      []bool
	attestations bool
	available    []string
	mu           sync.Mutex
}

func newSelector(spec Spec) (*selector, error) {
	s := &selector{attestations: spec.Attestations}
	var errs []error
	for _, raw := range spec.Platforms {
		p, err := ParsePlatform(raw)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		s.platforms = append(s.platforms, p)
		s.requested = append(s.requested, raw)
	}
	s.matched = make([]bool, len(s.platforms))
	return s, errors.Join(errs...)
}

// selects reports whether an image of platform p is kept, and notes p among those available.
func (s *selector) selects(p Platform) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p.isKnown() && !slices.Contains(s.available, p.String()) {
		s.available = append(s.available, p.String())
	}
	if len(s.platforms) == 0 {
		return true
	}
	selected := false
	for i, want := range s.platforms {
		if want.Matches(p) {
			s.matched[i] = true
			selected = true
		}
	}
	return selected
}

// check fails when a requested platform matched nothing.
func (s *selector) check(source string) error {
	var missing []string
	for i, ok := range s.matched {
		if !ok {
			missing = append(missing, s.requested[i])
		}
	}
	if len(missing) == 0 {
		return nil
	}
	available := slices.Clone(s.available)
	sort.Strings(available)
	if len(available) == 0 {
		available = []string{"(no platform)"}
	}
	return &UnknownPlatformError{Source: source, Requested: missing, Available: available}
}
