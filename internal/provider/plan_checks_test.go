package provider

// Plan checks of the acceptance tests: every one a planFuncCheck, the one adapter to
// terraform-plugin-testing's plancheck.PlanCheck.

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"

	tfjson "github.com/hashicorp/terraform-json"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
)

// planFuncCheck is a plan check written as a function.
type planFuncCheck func(*tfjson.Plan) error

func (f planFuncCheck) CheckPlan(_ context.Context, req plancheck.CheckPlanRequest, resp *plancheck.CheckPlanResponse) {
	resp.Error = f(req.Plan)
}

// resourceChange returns the values before and after of the change of addr among changes
// (planned changes or resource drift, named where in errors).
func resourceChange(changes []*tfjson.ResourceChange, addr, where string) (before, after map[string]any, err error) {
	for _, rc := range changes {
		if rc.Address == addr {
			before, _ = rc.Change.Before.(map[string]any)
			after, _ = rc.Change.After.(map[string]any)
			return before, after, nil
		}
	}
	return nil, nil, fmt.Errorf("%s list nothing for %s", where, addr)
}

// listOfLen matches a list value of n elements.
type listOfLen int

// wantMatches reports whether got is what w wants: a value (compared with reflect.DeepEqual, numbers
// as float64), a listOfLen, a func() any evaluated when the check runs (for values that
// PreConfig learns), a func(before any) any for the value after (given the value before), or
// nil for "anything different from the other side".
func wantMatches(w, got, other any) (bool, string) {
	got, other = plainNumber(got), plainNumber(other)
	switch w := w.(type) {
	case nil:
		return !reflect.DeepEqual(got, other), "a different value"
	case listOfLen:
		l, ok := got.([]any)
		return ok && len(l) == int(w), fmt.Sprintf("a list of %d", int(w))
	case func() any:
		return wantMatches(w(), got, other)
	case func(any) any:
		return wantMatches(w(other), got, other)
	case int:
		return wantMatches(float64(w), got, other)
	default:
		return reflect.DeepEqual(got, w), fmt.Sprintf("%v", w)
	}
}

// plainNumber turns a json.Number (terraform-exec decodes plans with UseNumber) into a float64.
func plainNumber(v any) any {
	if n, ok := v.(json.Number); ok {
		if f, err := n.Float64(); err == nil {
			return f
		}
	}
	return v
}

// expectPlannedChange checks the values before and after of one attribute in the planned change
// of a resource.
func expectPlannedChange(addr, attr string, before, after any) plancheck.PlanCheck {
	return expectAttrChange(addr, attr, false, before, after)
}

// expectRefreshDrift checks them in the drift that the refresh found ("Objects have changed
// outside of Terraform").
func expectRefreshDrift(addr, attr string, before, after any) plancheck.PlanCheck {
	return expectAttrChange(addr, attr, true, before, after)
}

func expectAttrChange(addr, attr string, drift bool, wantBefore, wantAfter any) plancheck.PlanCheck {
	return planFuncCheck(func(p *tfjson.Plan) error {
		changes, where := p.ResourceChanges, "planned changes"
		if drift {
			changes, where = p.ResourceDrift, "resource drift"
		}
		before, after, err := resourceChange(changes, addr, where)
		if err != nil {
			return err
		}
		b, a := before[attr], after[attr]
		// A func(before) for after gets before; one for before would get after.
		okB, wantB := wantMatches(wantBefore, b, a)
		okA, wantA := wantMatches(wantAfter, a, b)
		if !okB || !okA {
			return fmt.Errorf("%s of %s: %s changes from %v to %v; want from %s to %s", where, addr, attr, b, a, wantB, wantA)
		}
		return nil
	})
}

// expectPlanKeeps checks that the planned change leaves the attributes as they are.
func expectPlanKeeps(addr string, attrs ...string) plancheck.PlanCheck {
	return planFuncCheck(func(p *tfjson.Plan) error {
		before, after, err := resourceChange(p.ResourceChanges, addr, "planned changes")
		if err != nil {
			return err
		}
		for _, a := range attrs {
			if !reflect.DeepEqual(before[a], after[a]) {
				return fmt.Errorf("%s: the plan changes %s from %v to %v", addr, a, before[a], after[a])
			}
		}
		return nil
	})
}

// expectPlanChangesOnly checks that the planned change of addr changes these attributes and
// no other.
func expectPlanChangesOnly(addr string, attrs ...string) plancheck.PlanCheck {
	return planFuncCheck(func(p *tfjson.Plan) error {
		before, after, err := resourceChange(p.ResourceChanges, addr, "planned changes")
		if err != nil {
			return err
		}
		var changed []string
		for k := range after {
			if !reflect.DeepEqual(before[k], after[k]) {
				changed = append(changed, k)
			}
		}
		slices.Sort(changed)
		if !slices.Equal(changed, attrs) {
			return fmt.Errorf("the plan changes %v of %s, want only %v (before %v, after %v)", changed, addr, attrs, before, after)
		}
		return nil
	})
}

// expectRefreshGone checks that the refresh found the resource gone.
func expectRefreshGone(addr string) plancheck.PlanCheck {
	return planFuncCheck(func(p *tfjson.Plan) error {
		var seen []string
		for _, rc := range p.ResourceDrift {
			if rc.Address == addr && rc.Change.Actions.Delete() {
				return nil
			}
			seen = append(seen, fmt.Sprintf("%s %v", rc.Address, rc.Change.Actions))
		}
		return fmt.Errorf("resource drift does not show %s deleted; it shows [%s]", addr, strings.Join(seen, ", "))
	})
}
