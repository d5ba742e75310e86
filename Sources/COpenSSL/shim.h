#ifndef LVSKEEPER_COPENSSL_SHIM_H
#define LVSKEEPER_COPENSSL_SHIM_H
// OpenSSL (libssl-dev) for SSL_GET on the check engine. The wrappers stand in for OpenSSL's
// function-like macros, which Swift cannot call.
#include <openssl/ssl.h>
#include <openssl/err.h>

// The process's one client context: TLS without certificate verification (keepalived's SSL_GET),
// partial writes allowed and the write buffer allowed to move between retries (the engine
// retries from its slot's output buffer). NULL when OpenSSL cannot make one.
static inline SSL_CTX *lvsk_tls_client_context(void) {
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == NULL) return NULL;
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  // No session cache: each probe is a full handshake, as keepalived's checker does.
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  // A peer closing without close_notify reads as end of stream (HTTP/1.0 servers do).
  SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
  // Read ahead: OpenSSL reads what the socket holds into its buffer at once instead of each
  // record's 5-byte header and then its body (a probe's ~13 read(2) calls become ~4). The engine
  // reads until OpenSSL wants more (SSL_ERROR_WANT_READ: its buffer empty and the socket
  // drained), so bytes buffered inside OpenSSL are never left waiting for an edge.
  SSL_CTX_set_read_ahead(ctx, 1);
  return ctx;
}

// Sends `name` as SNI (SSL_set_tlsext_host_name); 1 on success.
static inline long lvsk_tls_set_server_name(SSL *ssl, const char *name) {
  return SSL_set_tlsext_host_name(ssl, name);
}
#endif
