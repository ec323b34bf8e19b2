#pragma once
/// Outgoing e-mail: the message, its RFC 5322 / MIME text, and the transports that deliver it
/// (a directory of .eml files for development, SMTP through libcurl for production).
/// Messages reach a transport through the outbox (infra/mail_outbox.hpp), never directly from
/// a request.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace coachd {

/// One e-mail to one recipient. Header values must not contain CR or LF; `from` and `to` are
/// "addr@example.com" or "Display Name <addr@example.com>" (the name may be any UTF-8).
struct mail_message {
  std::string id;  // stable, derived from the triggering event: the Message-ID and outbox key
  std::string from, to, subject, text_body;
  std::string html_body;  // optional: when set, the mail is multipart/alternative
  std::vector<std::pair<std::string, std::string>> extra_headers;  // ASCII, e.g. Auto-Submitted
  // When the message was created (the Date header); unset means "when it is sent". The outbox
  // sets it so that every retry sends the same bytes.
  std::optional<std::chrono::system_clock::time_point> date;
};

/// The Message-ID domain used when none is configured.
inline constexpr std::string_view default_message_id_domain = "coachd.local";

/// The message as RFC 5322 text with MIME (CRLF line endings, every line at most 78 octets
/// except where a header word is longer, never more than 998): Date, From, To, Subject
/// (RFC 2047 encoded-words when not plain ASCII), Message-ID <id@domain>, MIME-Version, and a
/// quoted-printable UTF-8 text/plain body, or multipart/alternative with a text/html part.
/// Throws std::invalid_argument on a header injection attempt (CR/LF in a header value), a
/// malformed address or header name, an empty id, or an extra header that would replace one
/// of the headers above.
std::string format_rfc5322(const mail_message& message, std::chrono::system_clock::time_point date,
                           std::string_view message_id_domain = default_message_id_domain);

/// The bare address ("addr@example.com") of a "Name <addr@example.com>" or "addr@example.com"
/// header value: the SMTP envelope address. Throws std::invalid_argument when malformed.
std::string mail_address_of(std::string_view mailbox);

/// A transport could not deliver a message (connection refused, recipient rejected, disk
/// full). The outbox records what() and retries later.
class mail_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Delivers one message. Implementations are safe to call from several threads at once.
class mail_transport {
 public:
  virtual ~mail_transport() = default;
  /// Returns once the message has been handed over; throws mail_error (or
  /// std::invalid_argument for a malformed message) when it was not.
  virtual void send(const mail_message& message) = 0;
};

/// The development transport: each message becomes `<dir>/<UTC timestamp>-<id>.eml`, written
/// atomically (a hidden temporary file in the same directory, fsync, rename, fsync of the
/// directory) so a reader never sees half a message. Creates the directory when missing.
class file_transport : public mail_transport {
 public:
  explicit file_transport(std::filesystem::path directory,
                          std::string message_id_domain = std::string(default_message_id_domain));
  void send(const mail_message& message) override;
  const std::filesystem::path& directory() const { return directory_; }

 private:
  std::filesystem::path directory_;
  std::string message_id_domain_;
};

/// How the SMTP connection is protected.
enum class smtp_security {
  none,      // plain SMTP (a local relay only)
  starttls,  // SMTP, then STARTTLS; fails when the server does not offer it
  tls,       // SMTPS: TLS from the first byte (usually port 465)
};

/// Where and how smtp_transport connects.
struct smtp_config {
  std::string host = "127.0.0.1";
  std::uint16_t port = 587;
  smtp_security security = smtp_security::starttls;
  std::string username;  // empty: no AUTH
  std::string password;
  std::string from_domain = std::string(default_message_id_domain);  // EHLO and Message-ID
  std::chrono::milliseconds timeout{std::chrono::seconds(30)};       // whole transaction
};

/// Production transport: one SMTP transaction per message through libcurl (MAIL FROM the
/// address in `from`, RCPT TO the address in `to`, DATA the format_rfc5322 text). Certificates
/// are verified against the system's trust store.
class smtp_transport : public mail_transport {
 public:
  explicit smtp_transport(smtp_config config);
  /// Throws mail_error with the server's or libcurl's explanation when the message was not
  /// accepted.
  void send(const mail_message& message) override;
  const smtp_config& config() const { return config_; }

 private:
  smtp_config config_;
};

}  // namespace coachd
