package cli

import (
	"context"
	"fmt"
	"io"

	product "github.com/earlyhints/earlyhints/internal/stack"
)

const proxyExamples = `  # in front of an application on port 8080, with a real certificate
  earlyhints proxy --origin http://127.0.0.1:8080 --listen :443 \
      --tls-cert /etc/ssl/site.pem --tls-key /etc/ssl/site.key --store file:/var/lib/earlyhints/hints.json

  # try it locally with a generated certificate
  earlyhints proxy --origin http://127.0.0.1:8080 --listen 127.0.0.1:8443

  # several sites by host name, from a config file; flags override it
  earlyhints proxy --config /etc/earlyhints.yaml --log-format json

  # behind a load balancer that speaks HTTP/2 to its backends and forwards 103
  earlyhints proxy --origin http://127.0.0.1:8080 --tls-cert c.pem --tls-key k.pem --h2c-listen 127.0.0.1:8081
`

func runProxy(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	s, err := proxySettings(args, stdout, stderr)
	if err != nil {
		return err
	}
	logger, err := newLogger(s.LogFormat, stderr)
	if err != nil {
		return err
	}
	tuneRuntime(logger)
	access, accessOut, err := product.NewAccessLog(s.LogFormat, stderr, logger)
	if err != nil {
		return err
	}
	defer accessOut.Close()
	st, err := buildStackWithAccessLog(s, logger, access)
	if err != nil {
		return err
	}
	if st.srv.SelfSigned() {
		fmt.Fprintf(stdout, "earlyhints proxy: serving %s with a generated self-signed certificate (spki sha256 %s)\n",
			st.srv.URL(), spkiHash(st))
	}
	return st.serve(ctx)
}

// proxySettings parses the command line and the config file it names; the
// flags given on the command line override the file.
func proxySettings(args []string, stdout, stderr io.Writer) (settings, error) {
	fs := newFlagSet("proxy", "proxy --origin URL [--listen :8443] [--tls-cert F --tls-key F] [--config F] [flags]",
		proxyExamples, stdout, stderr)
	opts := proxyOptions()
	fromFlags := defaultSettings()
	registerOptions(fs, opts, &fromFlags)
	configPath := fs.String("config", "", "YAML config `file` with the same settings (keys are the flag names, plus origins: host -> URL); flags given on the command line win")
	if err := parseFlags(fs, args, stdout); err != nil {
		return settings{}, err
	}
	if *configPath == "" {
		return fromFlags, nil
	}
	s := defaultSettings()
	if err := loadConfigFile(*configPath, &s); err != nil {
		return settings{}, err
	}
	applyFlags(fs, opts, &fromFlags, &s)
	return s, nil
}
