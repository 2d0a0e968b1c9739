// Package anomalyd is a thin client for anomalyd, a gRPC service that runs Elasticsearch-ML-style
// anomaly-detection jobs.
//
// A Client holds one connection and offers every RPC of JobService, ResultsService and
// ModelSnapshotService with the generated request and response messages of package anomalydv1,
// plus uploads: PostData streams NDJSON from an io.Reader in messages of about 1 MiB cut at
// newlines, PostColumns sends column batches, and NewUpload gives an io.Writer for anything in
// between. Every call takes a context.Context, which carries its deadline; every failed call
// returns an *Error with the status code and the server's stable Reason:
//
//	c, err := anomalyd.NewClient("127.0.0.1:50051", anomalyd.WithAPIKey(key))
//	if err != nil { ... }
//	defer c.Close()
//	_, err = c.OpenJob(ctx, &anomalydv1.OpenJobRequest{JobId: "farequote"})
//	if anomalyd.ReasonOf(err) == anomalyd.ReasonJobNotFound { ... }
//	counts, err := c.PostData(ctx, "farequote", file)
package anomalyd

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"

	anomalydv1 "github.com/anomalyd/anomalyd/clients/go/gen/anomalyd/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// Client is a connection to an anomalyd server. Its methods are those of the generated
// JobService, ResultsService and ModelSnapshotService clients, with errors turned into *Error,
// except PostData, which streams an io.Reader (the raw stream is c.JobServiceClient.PostData).
// A Client is safe for concurrent use; Close it when done.
type Client struct {
	anomalydv1.JobServiceClient
	anomalydv1.ResultsServiceClient
	anomalydv1.ModelSnapshotServiceClient

	conn *grpc.ClientConn
}

// Option configures NewClient.
type Option func(*settings)

type settings struct {
	tls              bool
	caFile           string
	certFile         string
	keyFile          string
	apiKey           string
	extraDialOptions []grpc.DialOption
}

// WithTLS connects with TLS, verifying the server against the system's CA certificates unless
// WithCAFile names others.
func WithTLS() Option {
	return func(s *settings) { s.tls = true }
}

// WithCAFile connects with TLS, verifying the server against the PEM CA certificates in path.
func WithCAFile(path string) Option {
	return func(s *settings) { s.tls, s.caFile = true, path }
}

// WithClientCertificate connects with TLS and presents the PEM certificate in certFile, with
// its unencrypted key in keyFile, to a server that requires one (mutual TLS).
func WithClientCertificate(certFile, keyFile string) Option {
	return func(s *settings) { s.tls, s.certFile, s.keyFile = true, certFile, keyFile }
}

// WithAPIKey sends credential, as "anomalyd keys create" printed it, with every call as the
// metadata "authorization: ApiKey <credential>". Without TLS the key is sent only to a
// loopback target (localhost, 127.0.0.0/8, ::1, a unix socket): NewClient refuses to send it
// in the clear anywhere else.
func WithAPIKey(credential string) Option {
	return func(s *settings) { s.apiKey = credential }
}

// WithDialOptions adds gRPC dial options after the client's own (message size limits,
// keepalive, interceptors, other transport credentials...).
func WithDialOptions(opts ...grpc.DialOption) Option {
	return func(s *settings) { s.extraDialOptions = append(s.extraDialOptions, opts...) }
}

// NewClient returns a client for target ("host:port", or any gRPC target name). It does not
// connect: the first call does, and a server that cannot be reached fails that call with
// UNAVAILABLE. It fails if a certificate or key file cannot be read, or if an API key would
// be sent unencrypted to a target that is not on this machine.
func NewClient(target string, opts ...Option) (*Client, error) {
	var s settings
	for _, opt := range opts {
		opt(&s)
	}
	transport := insecure.NewCredentials()
	if s.tls {
		config, err := tlsConfig(s)
		if err != nil {
			return nil, err
		}
		transport = credentials.NewTLS(config)
	}
	dialOptions := []grpc.DialOption{
		grpc.WithTransportCredentials(transport),
		grpc.WithChainUnaryInterceptor(convertUnaryErrors),
		grpc.WithChainStreamInterceptor(convertStreamErrors),
	}
	if s.apiKey != "" {
		if !s.tls && !isLoopback(target) {
			return nil, fmt.Errorf("anomalyd: an API key would cross the network to %q unencrypted: connect with TLS", target)
		}
		dialOptions = append(dialOptions, grpc.WithPerRPCCredentials(apiKey(s.apiKey)))
	}
	conn, err := grpc.NewClient(target, append(dialOptions, s.extraDialOptions...)...)
	if err != nil {
		return nil, fmt.Errorf("anomalyd: %w", err)
	}
	return &Client{
		JobServiceClient:           anomalydv1.NewJobServiceClient(conn),
		ResultsServiceClient:       anomalydv1.NewResultsServiceClient(conn),
		ModelSnapshotServiceClient: anomalydv1.NewModelSnapshotServiceClient(conn),
		conn:                       conn,
	}, nil
}

// Close closes the connection; calls in progress fail with CANCELED.
func (c *Client) Close() error {
	return c.conn.Close()
}

// Conn returns the underlying connection, for other services on the same server (health
// checking, reflection).
func (c *Client) Conn() *grpc.ClientConn {
	return c.conn
}

func tlsConfig(s settings) (*tls.Config, error) {
	config := &tls.Config{MinVersion: tls.VersionTLS12}
	if s.caFile != "" {
		pem, err := os.ReadFile(s.caFile)
		if err != nil {
			return nil, fmt.Errorf("anomalyd: CA file: %w", err)
		}
		config.RootCAs = x509.NewCertPool()
		if !config.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("anomalyd: CA file %s holds no PEM certificate", s.caFile)
		}
	}
	if s.certFile != "" || s.keyFile != "" {
		cert, err := tls.LoadX509KeyPair(s.certFile, s.keyFile)
		if err != nil {
			return nil, fmt.Errorf("anomalyd: client certificate: %w", err)
		}
		config.Certificates = []tls.Certificate{cert}
	}
	return config, nil
}

// isLoopback reports whether a gRPC target names this machine: a unix socket, localhost or a
// loopback address, with or without a scheme ("dns:///127.0.0.1:50051").
func isLoopback(target string) bool {
	if strings.HasPrefix(target, "unix:") || strings.HasPrefix(target, "unix-abstract:") {
		return true
	}
	address := target
	if u, err := url.Parse(target); err == nil && u.Scheme != "" && u.Opaque == "" {
		address = strings.TrimPrefix(u.Path, "/")
	}
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		host = address
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// apiKey is per-RPC credentials that, unlike gRPC's own, are also sent without TLS: NewClient
// allows that only to loopback targets, where a server often runs without TLS.
type apiKey string

func (k apiKey) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "ApiKey " + string(k)}, nil
}

func (apiKey) RequireTransportSecurity() bool { return false }

func convertUnaryErrors(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn,
	invoker grpc.UnaryInvoker, opts ...grpc.CallOption,
) error {
	return fromError(invoker(ctx, method, req, reply, cc, opts...))
}

func convertStreamErrors(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string,
	streamer grpc.Streamer, opts ...grpc.CallOption,
) (grpc.ClientStream, error) {
	stream, err := streamer(ctx, desc, cc, method, opts...)
	if err != nil {
		return nil, fromError(err)
	}
	return errorConvertingStream{stream}, nil
}

// errorConvertingStream turns the status errors of a stream into *Error; io.EOF stays io.EOF.
type errorConvertingStream struct {
	grpc.ClientStream
}

func (s errorConvertingStream) SendMsg(m any) error { return fromError(s.ClientStream.SendMsg(m)) }

func (s errorConvertingStream) RecvMsg(m any) error { return fromError(s.ClientStream.RecvMsg(m)) }

func (s errorConvertingStream) CloseSend() error { return fromError(s.ClientStream.CloseSend()) }
