// A small C face over OpenSSL 3 for the TLS module. OpenSSL's option setters are macros
// (SSL_CTX_set_min_proto_version, SSL_CTX_set_mode, …) that Swift cannot call, and its
// error queue is per thread: every function here drains it into a message buffer, so Swift
// sees only opaque pointers, plain return codes and text.
#ifndef COPENSSL_H
#define COPENSSL_H

#include <stddef.h>
#include <stdint.h>

/// Results of the I/O calls (besides a byte count > 0).
enum {
    FS_TLS_DONE = 1,
    FS_TLS_CLOSED = 0,        // the peer closed (close_notify or end of stream)
    FS_TLS_ERROR = -1,        // fatal; message in the error buffer
    FS_TLS_WANT_READ = -2,    // retry when the socket is readable
    FS_TLS_WANT_WRITE = -3,   // retry when the socket is writable
};

/// An SSL_CTX for a server: certificate chain and key from PEM files, TLS 1.2 minimum,
/// modern ciphers, ALPN http/1.1, session tickets; with `client_ca_path` non-NULL, client
/// certificates are required and verified against it. NULL on failure with a message.
void *fs_tls_context_new(const char *cert_path, const char *key_path, const char *client_ca_path,
                         char *error, size_t error_length);
void fs_tls_context_free(void *context);
/// The certificate's notAfter as Unix seconds (0 if unknown).
int64_t fs_tls_context_not_after(void *context);

/// A server-side SSL on a connected, non-blocking socket.
void *fs_tls_session_new(void *context, int fd, char *error, size_t error_length);
void fs_tls_session_free(void *session);
/// FS_TLS_DONE, WANT_READ, WANT_WRITE or ERROR.
int fs_tls_handshake(void *session, char *error, size_t error_length);
/// Bytes read (> 0), FS_TLS_CLOSED, WANT_READ, WANT_WRITE or ERROR.
long fs_tls_read(void *session, void *buffer, size_t length, char *error, size_t error_length);
/// Bytes written (> 0), WANT_READ, WANT_WRITE or ERROR.
long fs_tls_write(void *session, const void *buffer, size_t length, char *error, size_t error_length);
/// Whether decrypted or raw bytes wait inside the SSL (epoll cannot see them).
int fs_tls_has_pending(void *session);
/// Sends close_notify (best effort, never blocks).
void fs_tls_shutdown(void *session);
/// The negotiated protocol, e.g. "TLSv1.3".
const char *fs_tls_version(void *session);
/// 1 if the session was resumed from a ticket.
int fs_tls_session_reused(void *session);

/// SHA-256 of `length` bytes into `digest` (32 bytes).
void fs_sha256(const void *bytes, size_t length, uint8_t *digest);
/// A streaming SHA-256: new (NULL on failure), update and final (1 on success, else 0), free.
void *fs_sha256_new(void);
int fs_sha256_update(void *context, const void *bytes, size_t length);
int fs_sha256_final(void *context, uint8_t *digest);
void fs_sha256_free(void *context);

#endif
