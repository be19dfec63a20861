#include "COpenSSL.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

// Drains OpenSSL's per-thread error queue into `error` (the first reason wins, prefixed).
static void take_error(const char *what, char *error, size_t error_length) {
    unsigned long code = ERR_get_error();
    char reason[256] = "no detail";
    if (code != 0) ERR_error_string_n(code, reason, sizeof reason);
    if (error && error_length) snprintf(error, error_length, "%s: %s", what, reason);
    ERR_clear_error();
}

static int select_alpn(SSL *ssl, const unsigned char **out, unsigned char *out_length,
                       const unsigned char *in, unsigned int in_length, void *arg) {
    (void)ssl; (void)arg;
    static const unsigned char http11[] = "\x08http/1.1";
    unsigned char *selected = NULL;
    if (SSL_select_next_proto(&selected, out_length, http11, sizeof http11 - 1, in, in_length) == OPENSSL_NPN_NEGOTIATED) {
        *out = selected;
        return SSL_TLSEXT_ERR_OK;
    }
    // A client that offers only other protocols (h2) gets no ALPN and speaks HTTP/1.1 or leaves.
    return SSL_TLSEXT_ERR_NOACK;
}

static int readable(const char *path, const char *what, char *error, size_t error_length) {
    FILE *file = fopen(path, "r");
    if (!file) {
        snprintf(error, error_length, "%s %s cannot be read: %s", what, path, strerror(errno));
        return 0;
    }
    fclose(file);
    return 1;
}

void *fs_tls_context_new(const char *cert_path, const char *key_path, const char *client_ca_path,
                         char *error, size_t error_length) {
    ERR_clear_error();
    if (!readable(cert_path, "certificate file", error, error_length)) return NULL;
    if (!readable(key_path, "key file", error, error_length)) return NULL;
    if (client_ca_path && !readable(client_ca_path, "client CA file", error, error_length)) return NULL;
    SSL_CTX *context = SSL_CTX_new(TLS_server_method());
    if (!context) { take_error("SSL_CTX_new", error, error_length); return NULL; }
    SSL_CTX_set_min_proto_version(context, TLS1_2_VERSION);
    // TLS 1.2: forward-secret AEAD suites only; TLS 1.3 keeps OpenSSL's default suites.
    if (!SSL_CTX_set_cipher_list(context, "ECDHE+AESGCM:ECDHE+CHACHA20")) {
        take_error("cipher list", error, error_length);
        SSL_CTX_free(context);
        return NULL;
    }
    SSL_CTX_set_options(context, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
    // Partial writes and a moving buffer suit a non-blocking loop; released buffers keep an
    // idle TLS connection at a few KiB instead of ~34 KiB.
    SSL_CTX_set_mode(context, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_alpn_select_cb(context, select_alpn, NULL);
    static const unsigned char session_context[] = "fusion-serve";
    SSL_CTX_set_session_id_context(context, session_context, sizeof session_context - 1);
    SSL_CTX_set_session_cache_mode(context, SSL_SESS_CACHE_SERVER);
    if (SSL_CTX_use_certificate_chain_file(context, cert_path) != 1) {
        char what[600];
        snprintf(what, sizeof what, "certificate file %s is not a PEM certificate chain", cert_path);
        take_error(what, error, error_length);
        SSL_CTX_free(context);
        return NULL;
    }
    // The key is read on its own so that "not a key" and "not this certificate's key" get
    // different messages (SSL_CTX_use_PrivateKey_file reports both as a failure to load).
    FILE *key_file = fopen(key_path, "r");
    EVP_PKEY *key = key_file ? PEM_read_PrivateKey(key_file, NULL, NULL, NULL) : NULL;
    if (key_file) fclose(key_file);
    if (!key) {
        char what[600];
        snprintf(what, sizeof what, "key file %s is not a PEM private key (or is encrypted)", key_path);
        take_error(what, error, error_length);
        SSL_CTX_free(context);
        return NULL;
    }
    X509 *certificate = SSL_CTX_get0_certificate(context);
    if (!certificate || X509_check_private_key(certificate, key) != 1) {
        char what[1200];
        snprintf(what, sizeof what, "key file %s does not match the certificate in %s", key_path, cert_path);
        take_error(what, error, error_length);
        EVP_PKEY_free(key);
        SSL_CTX_free(context);
        return NULL;
    }
    int used = SSL_CTX_use_PrivateKey(context, key);
    EVP_PKEY_free(key);
    if (used != 1 || SSL_CTX_check_private_key(context) != 1) {
        take_error("SSL_CTX_use_PrivateKey", error, error_length);
        SSL_CTX_free(context);
        return NULL;
    }
    if (client_ca_path) {
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(client_ca_path);
        if (!names || SSL_CTX_load_verify_locations(context, client_ca_path, NULL) != 1) {
            char what[600];
            snprintf(what, sizeof what, "client CA file %s has no usable certificate", client_ca_path);
            take_error(what, error, error_length);
            if (names) sk_X509_NAME_pop_free(names, X509_NAME_free);
            SSL_CTX_free(context);
            return NULL;
        }
        SSL_CTX_set_client_CA_list(context, names);
        SSL_CTX_set_verify(context, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    }
    return context;
}

void fs_tls_context_free(void *context) { SSL_CTX_free((SSL_CTX *)context); }

int64_t fs_tls_context_not_after(void *context) {
    X509 *certificate = SSL_CTX_get0_certificate((SSL_CTX *)context);
    if (!certificate) return 0;
    const ASN1_TIME *not_after = X509_get0_notAfter(certificate);
    struct tm parsed;
    if (!not_after || ASN1_TIME_to_tm(not_after, &parsed) != 1) return 0;
    return (int64_t)timegm(&parsed);
}

void *fs_tls_session_new(void *context, int fd, char *error, size_t error_length) {
    ERR_clear_error();
    SSL *ssl = SSL_new((SSL_CTX *)context);
    if (!ssl) { take_error("SSL_new", error, error_length); return NULL; }
    if (SSL_set_fd(ssl, fd) != 1) { take_error("SSL_set_fd", error, error_length); SSL_free(ssl); return NULL; }
    SSL_set_accept_state(ssl);
    return ssl;
}

void fs_tls_session_free(void *session) { SSL_free((SSL *)session); }

static long map_result(SSL *ssl, long result, const char *what, char *error, size_t error_length) {
    if (result > 0) return result;
    int reason = SSL_get_error(ssl, (int)result);
    switch (reason) {
    case SSL_ERROR_WANT_READ: return FS_TLS_WANT_READ;
    case SSL_ERROR_WANT_WRITE: return FS_TLS_WANT_WRITE;
    case SSL_ERROR_ZERO_RETURN: ERR_clear_error(); return FS_TLS_CLOSED;
    case SSL_ERROR_SYSCALL:
        // An end of stream without close_notify (OpenSSL 3 reports it as SSL_ERROR_SSL with
        // SSL_R_UNEXPECTED_EOF_WHILE_READING, older as SYSCALL with errno 0): a close.
        if (ERR_peek_error() == 0 && errno == 0) return FS_TLS_CLOSED;
        snprintf(error, error_length, "%s: %s", what, errno ? strerror(errno) : "I/O error");
        ERR_clear_error();
        return FS_TLS_ERROR;
    default:
        if (ERR_GET_REASON(ERR_peek_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
            ERR_clear_error();
            return FS_TLS_CLOSED;
        }
        take_error(what, error, error_length);
        return FS_TLS_ERROR;
    }
}

int fs_tls_handshake(void *session, char *error, size_t error_length) {
    ERR_clear_error();
    errno = 0;
    SSL *ssl = (SSL *)session;
    int result = SSL_do_handshake(ssl);
    if (result == 1) return FS_TLS_DONE;
    long mapped = map_result(ssl, result, "TLS handshake", error, error_length);
    return mapped == FS_TLS_CLOSED ? FS_TLS_ERROR : (int)mapped;
}

long fs_tls_read(void *session, void *buffer, size_t length, char *error, size_t error_length) {
    ERR_clear_error();
    errno = 0;
    SSL *ssl = (SSL *)session;
    int capped = length > 0x7fffffff ? 0x7fffffff : (int)length;
    return map_result(ssl, SSL_read(ssl, buffer, capped), "TLS read", error, error_length);
}

long fs_tls_write(void *session, const void *buffer, size_t length, char *error, size_t error_length) {
    ERR_clear_error();
    errno = 0;
    SSL *ssl = (SSL *)session;
    int capped = length > 0x7fffffff ? 0x7fffffff : (int)length;
    long result = map_result(ssl, SSL_write(ssl, buffer, capped), "TLS write", error, error_length);
    return result == FS_TLS_CLOSED ? FS_TLS_ERROR : result;
}

int fs_tls_has_pending(void *session) { return SSL_has_pending((SSL *)session); }

void fs_tls_shutdown(void *session) {
    SSL *ssl = (SSL *)session;
    if (SSL_is_init_finished(ssl)) SSL_shutdown(ssl);
    ERR_clear_error();
}

const char *fs_tls_version(void *session) { return SSL_get_version((SSL *)session); }

int fs_tls_session_reused(void *session) { return SSL_session_reused((SSL *)session); }

void fs_sha256(const void *bytes, size_t length, uint8_t *digest) {
    unsigned int size = 32;
    EVP_Digest(bytes, length, digest, &size, EVP_sha256(), NULL);
}

void *fs_sha256_new(void) {
    EVP_MD_CTX *context = EVP_MD_CTX_new();
    if (context == NULL) return NULL;
    if (EVP_DigestInit_ex(context, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(context);
        ERR_clear_error();
        return NULL;
    }
    return context;
}

int fs_sha256_update(void *context, const void *bytes, size_t length) {
    int ok = EVP_DigestUpdate((EVP_MD_CTX *)context, bytes, length) == 1;
    if (!ok) ERR_clear_error();
    return ok;
}

int fs_sha256_final(void *context, uint8_t *digest) {
    unsigned int size = 32;
    int ok = EVP_DigestFinal_ex((EVP_MD_CTX *)context, digest, &size) == 1;
    if (!ok) ERR_clear_error();
    return ok;
}

void fs_sha256_free(void *context) { EVP_MD_CTX_free((EVP_MD_CTX *)context); }
