package main

import (
	"os"
	"testing"
)

func TestQuietUnlessRecorded(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string // "" unsets
		want map[string]string // "" means unset
	}{
		{
			name: "terraform records nothing: the provider logs nothing",
			env:  map[string]string{"TF_LOG": "", "TF_LOG_PROVIDER": "", "TF_LOG_SDK": "", "TF_LOG_PROVIDER_ZARF": ""},
			want: map[string]string{"TF_LOG_SDK": "OFF", "TF_LOG_PROVIDER_ZARF": "OFF"},
		},
		{
			name: "TF_LOG: the libraries decide, as before",
			env:  map[string]string{"TF_LOG": "DEBUG", "TF_LOG_PROVIDER": "", "TF_LOG_SDK": "", "TF_LOG_PROVIDER_ZARF": ""},
			want: map[string]string{"TF_LOG_SDK": "", "TF_LOG_PROVIDER_ZARF": ""},
		},
		{
			name: "TF_LOG_PROVIDER: the libraries decide, as before",
			env:  map[string]string{"TF_LOG": "", "TF_LOG_PROVIDER": "TRACE", "TF_LOG_SDK": "", "TF_LOG_PROVIDER_ZARF": ""},
			want: map[string]string{"TF_LOG_SDK": "", "TF_LOG_PROVIDER_ZARF": ""},
		},
		{
			name: "explicit levels stay",
			env:  map[string]string{"TF_LOG": "", "TF_LOG_PROVIDER": "", "TF_LOG_SDK": "WARN", "TF_LOG_PROVIDER_ZARF": "INFO"},
			want: map[string]string{"TF_LOG_SDK": "WARN", "TF_LOG_PROVIDER_ZARF": "INFO"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v) // restores the variable after the test
				if v == "" {
					_ = os.Unsetenv(k)
				}
			}
			quietUnlessRecorded()
			for k, want := range tc.want {
				if got := os.Getenv(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
		})
	}
}
