#include "infra/mail.hpp"

#include <curl/curl.h>
#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>
#include <mutex>

namespace coachd {
namespace {

constexpr std::string_view crlf = "\r\n";
// RFC 5322 2.1.1: lines SHOULD be at most 78 octets and MUST be at most 998 (without CRLF).
constexpr std::size_t preferred_line = 78;
constexpr std::size_t max_line = 998;
// RFC 2045 6.7: quoted-printable lines are at most 76 characters.
constexpr std::size_t qp_line = 76;
// UTF-8 bytes per encoded-word: 42 bytes are 56 base64 characters, so a word is 68 octets
// and "Subject: " plus one word stays within 78.
constexpr std::size_t encoded_word_bytes = 42;
// QP output never contains "=_", so this boundary cannot occur inside a part.
constexpr std::string_view alternative_boundary = "=_coachd-alternative";

bool is_ascii(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

bool is_wsp(char c) { return c == ' ' || c == '\t'; }

bool is_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// RFC 5322 3.2.3 atext.
bool is_atext(char c) {
  return is_alnum(c) || std::string_view("!#$%&'*+-/=?^_`{|}~").find(c) != std::string_view::npos;
}

bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t extra = 0;
    std::uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      extra = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + extra >= s.size()) return false;
    for (std::size_t k = 1; k <= extra; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    static constexpr std::array<std::uint32_t, 4> min_cp{0, 0x80, 0x800, 0x10000};
    if (cp < min_cp[extra] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += extra + 1;
  }
  return true;
}

[[noreturn]] void reject(const std::string& what) { throw std::invalid_argument("mail: " + what); }

// Every header value passes here first: CR or LF would let the value start a new header
// (header injection); other control characters have no place in a header either.
void check_header_value(std::string_view name, std::string_view value) {
  for (char ch : value) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '\r' || c == '\n') reject("CR/LF in the " + std::string(name) + " header value");
    if ((c < 0x20 && c != '\t') || c == 0x7F) {
      reject("control character in the " + std::string(name) + " header value");
    }
  }
  if (!valid_utf8(value)) reject("the " + std::string(name) + " header value is not UTF-8");
}

std::string base64(std::string_view bytes) {
  std::string out(sodium_base64_ENCODED_LEN(bytes.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()),
                    bytes.size(), sodium_base64_VARIANT_ORIGINAL);
  out.resize(std::strlen(out.c_str()));
  return out;
}

// RFC 2047 B encoded-words separated by single spaces (which decoders drop between adjacent
// encoded-words), each holding whole UTF-8 characters.
std::string encoded_words(std::string_view text) {
  std::string out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t len = std::min(encoded_word_bytes, text.size() - pos);
    if (pos + len < text.size()) {
      // Do not cut before a continuation byte (10xxxxxx).
      std::size_t cut = len;
      while (cut > 0 && (static_cast<unsigned char>(text[pos + cut]) & 0xC0) == 0x80) --cut;
      if (cut > 0) len = cut;
    }
    if (!out.empty()) out += ' ';
    out += "=?UTF-8?B?";
    out += base64(text.substr(pos, len));
    out += "?=";
    pos += len;
  }
  return out;
}

// Folds "Name: value" (one logical line) at whitespace so that lines stay within 78 octets
// where the words allow it. Returns nothing when some line would still exceed 998 octets.
std::optional<std::string> fold(std::string_view line) {
  // Segments: the first word, then each run of whitespace together with the word after it.
  // A fold goes before a segment, so a continuation line always starts with whitespace and
  // never consists of whitespace only.
  std::vector<std::string_view> segments;
  std::size_t start = 0;
  for (std::size_t i = 1; i < line.size(); ++i) {
    if (is_wsp(line[i]) && !is_wsp(line[i - 1])) {
      segments.push_back(line.substr(start, i - start));
      start = i;
    }
  }
  segments.push_back(line.substr(start));

  std::string out;
  std::string current(segments.front());
  for (std::size_t i = 1; i < segments.size(); ++i) {
    const std::string_view seg = segments[i];
    const bool has_word = seg.find_first_not_of(" \t") != std::string_view::npos;
    if (has_word && current.size() + seg.size() > preferred_line) {
      if (current.size() > max_line) return std::nullopt;
      out += current;
      out += crlf;
      current.assign(seg);
    } else {
      current += seg;
    }
  }
  if (current.size() > max_line) return std::nullopt;
  out += current;
  out += crlf;
  return out;
}

void append_header(std::string& out, std::string_view name, std::string_view value) {
  std::string line(name);
  line += ':';
  if (!value.empty()) {
    line += ' ';
    line += value;
  }
  auto folded = fold(line);
  if (!folded) reject("the " + std::string(name) + " header has a word longer than 998 octets");
  out += *folded;
}

// An unstructured header (Subject): plain when it is printable ASCII that fits, otherwise
// encoded-words.
void append_unstructured(std::string& out, std::string_view name, std::string_view value) {
  check_header_value(name, value);
  if (is_ascii(value) && value.find("=?") == std::string_view::npos) {
    std::string line(name);
    line += ": ";
    line += value;
    if (auto folded = fold(line)) {
      out += *folded;
      return;
    }
  }
  append_header(out, name, encoded_words(value));
}

struct mailbox {
  std::string display_name;
  std::string address;
};

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_wsp(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_wsp(s.back())) s.remove_suffix(1);
  return s;
}

void check_address(std::string_view address, std::string_view header) {
  const auto fail = [&](std::string_view why) {
    reject("invalid address in " + std::string(header) + " (" + std::string(why) + "): '" +
           std::string(address) + "'");
  };
  const std::size_t at = address.rfind('@');
  if (at == std::string_view::npos) fail("no @");
  const std::string_view local = address.substr(0, at);
  const std::string_view domain = address.substr(at + 1);
  if (local.empty() || local.size() > 64) fail("local part length");
  if (domain.empty() || domain.size() > 253) fail("domain length");
  if (local.front() == '.' || local.back() == '.' || local.find("..") != std::string_view::npos) {
    fail("dots in the local part");
  }
  for (char c : local) {
    if (!is_atext(c) && c != '.') fail("character in the local part");
  }
  if (domain.front() == '.' || domain.back() == '.' || domain.front() == '-' ||
      domain.find("..") != std::string_view::npos) {
    fail("domain");
  }
  for (char c : domain) {
    if (!is_alnum(c) && c != '-' && c != '.') fail("character in the domain");
  }
}

mailbox parse_mailbox(std::string_view value, std::string_view header) {
  check_header_value(header, value);
  value = trim(value);
  mailbox result;
  if (!value.empty() && value.back() == '>') {
    const std::size_t open = value.rfind('<');
    if (open == std::string_view::npos) reject("unbalanced <> in " + std::string(header));
    result.address = std::string(value.substr(open + 1, value.size() - open - 2));
    std::string_view name = trim(value.substr(0, open));
    if (name.size() >= 2 && name.front() == '"' && name.back() == '"') {
      name = name.substr(1, name.size() - 2);
      for (std::size_t i = 0; i < name.size(); ++i) {
        if (name[i] == '\\' && i + 1 < name.size()) ++i;
        result.display_name += name[i];
      }
    } else {
      result.display_name = std::string(name);
    }
  } else {
    result.address = std::string(value);
  }
  check_address(result.address, header);
  return result;
}

// "Name <addr>" with the name as atoms, a quoted-string, or encoded-words as it requires.
std::string render_mailbox(const mailbox& m) {
  const std::string_view name = m.display_name;
  if (name.empty()) return m.address;
  std::string out;
  if (!is_ascii(name) || name.find("=?") != std::string_view::npos) {
    out = encoded_words(name);
  } else if (std::all_of(name.begin(), name.end(),
                         [](char c) { return is_atext(c) || c == ' '; })) {
    out = std::string(name);
  } else {
    out = "\"";
    for (char c : name) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  out += " <";
  out += m.address;
  out += '>';
  return out;
}

void check_domain(std::string_view domain) {
  const bool ok = !domain.empty() && domain.front() != '.' && domain.back() != '.' &&
                  domain.find("..") == std::string_view::npos &&
                  std::all_of(domain.begin(), domain.end(),
                              [](char c) { return is_alnum(c) || c == '-' || c == '.'; });
  if (!ok) reject("invalid Message-ID domain '" + std::string(domain) + "'");
}

// The id as the left part of a msg-id (dot-atom-text): atext is kept, '.' where a dot-atom
// allows it, anything else (and '%') percent-encoded, so distinct ids stay distinct.
std::string message_id_local(std::string_view id) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (std::size_t i = 0; i < id.size(); ++i) {
    const char c = id[i];
    const bool dot_ok = c == '.' && !out.empty() && out.back() != '.' && i + 1 < id.size();
    if ((is_atext(c) && c != '%') || dot_ok) {
      out += c;
    } else {
      const auto b = static_cast<unsigned char>(c);
      out += '%';
      out += hex[b >> 4];
      out += hex[b & 0x0F];
    }
  }
  return out;
}

std::string rfc5322_date(std::chrono::system_clock::time_point when) {
  static constexpr std::array<const char*, 7> days{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr std::array<const char*, 12> months{"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const std::time_t t = std::chrono::system_clock::to_time_t(when);
  std::tm tm{};
  if (gmtime_r(&t, &tm) == nullptr) reject("date out of range");
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d +0000", days.at(tm.tm_wday),
                tm.tm_mday, months.at(tm.tm_mon), tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                tm.tm_sec);
  return buf;
}

// Quoted-printable (RFC 2045 6.7) of UTF-8 text: line breaks (LF, CRLF or CR) become CRLF
// hard breaks, lines are cut with soft breaks at 76 characters, trailing whitespace is
// encoded, and a '.' or "From " at the start of a line is encoded so no relay alters it.
// The result always ends with CRLF (a soft break when the text does not end with a newline),
// so it decodes to exactly `text` with CRLF newlines.
std::string quoted_printable(std::string_view text) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  std::size_t column = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    if (c == '\r' || c == '\n') {
      out += crlf;
      column = 0;
      i += (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ? 2 : 1;
      continue;
    }
    const bool line_end = i + 1 == text.size() || text[i + 1] == '\r' || text[i + 1] == '\n';
    const auto b = static_cast<unsigned char>(c);
    bool literal = b >= 33 && b <= 126 && c != '=';
    if (is_wsp(c)) literal = !line_end;
    if (column == 0 && c == '.') literal = false;
    if (column == 0 && c == 'F' && text.substr(i, 5) == "From ") literal = false;
    const std::size_t width = literal ? 1 : 3;
    // Room for the token, plus a soft-break '=' unless the token ends the line.
    const std::size_t needed = column + width + (line_end ? 0 : 1);
    if (needed > qp_line) {
      out += '=';
      out += crlf;
      column = 0;
      continue;  // re-decide: the token may now start a line
    }
    if (literal) {
      out += c;
    } else {
      out += '=';
      out += hex[b >> 4];
      out += hex[b & 0x0F];
    }
    column += width;
    ++i;
  }
  if (column > 0) {
    out += '=';
    out += crlf;
  }
  return out;
}

void check_body(std::string_view what, std::string_view body) {
  if (!valid_utf8(body)) reject("the " + std::string(what) + " is not UTF-8");
}

std::string lowercase(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

void append_extra_header(std::string& out, std::string_view name, std::string_view value) {
  if (name.empty() || name.size() > 76) reject("extra header name length");
  for (char c : name) {
    const auto b = static_cast<unsigned char>(c);
    if (b < 33 || b > 126 || c == ':')
      reject("invalid extra header name '" + std::string(name) + "'");
  }
  static constexpr std::array<std::string_view, 10> reserved{
      "date",    "from",       "to",           "cc",           "bcc",
      "subject", "message-id", "mime-version", "content-type", "content-transfer-encoding"};
  const std::string lower = lowercase(name);
  if (std::find(reserved.begin(), reserved.end(), lower) != reserved.end()) {
    reject("extra header '" + std::string(name) + "' would replace a header of the message");
  }
  check_header_value(name, value);
  if (!is_ascii(value)) reject("extra header '" + std::string(name) + "' is not ASCII");
  append_header(out, name, value);
}

void append_text_part(std::string& out, std::string_view media_type, std::string_view body) {
  out += "Content-Type: ";
  out += media_type;
  out += "; charset=UTF-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n";
  out += quoted_printable(body);
}

}  // namespace

std::string mail_address_of(std::string_view mailbox_value) {
  return parse_mailbox(mailbox_value, "address").address;
}

std::string format_rfc5322(const mail_message& message, std::chrono::system_clock::time_point date,
                           std::string_view message_id_domain) {
  if (message.id.empty()) reject("message id is empty");
  if (!valid_utf8(message.id)) reject("message id is not UTF-8");
  check_domain(message_id_domain);
  check_body("text body", message.text_body);
  check_body("HTML body", message.html_body);

  std::string out;
  append_header(out, "Date", rfc5322_date(date));
  append_header(out, "From", render_mailbox(parse_mailbox(message.from, "From")));
  append_header(out, "To", render_mailbox(parse_mailbox(message.to, "To")));
  append_unstructured(out, "Subject", message.subject);
  append_header(out, "Message-ID",
                "<" + message_id_local(message.id) + "@" + std::string(message_id_domain) + ">");
  append_header(out, "MIME-Version", "1.0");
  for (const auto& [name, value] : message.extra_headers) append_extra_header(out, name, value);

  if (message.html_body.empty()) {
    append_text_part(out, "text/plain", message.text_body);
    return out;
  }
  out += "Content-Type: multipart/alternative;\r\n boundary=\"";
  out += alternative_boundary;
  out += "\"\r\n\r\n";
  const std::string delimiter = "--" + std::string(alternative_boundary);
  // Each part's text ends with CRLF; the CRLF before a delimiter belongs to the delimiter.
  out += delimiter + "\r\n";
  append_text_part(out, "text/plain", message.text_body);
  out += "\r\n" + delimiter + "\r\n";
  append_text_part(out, "text/html", message.html_body);
  out += "\r\n" + delimiter + "--\r\n";
  return out;
}

// ---------------------------------------------------------------------------------------------
// file_transport

namespace {

std::string errno_text(int err) { return std::strerror(err); }

[[noreturn]] void file_failure(const std::string& what, const std::filesystem::path& path,
                               int err) {
  throw mail_error("file_transport: " + what + " " + path.string() + ": " + errno_text(err));
}

// A file-name-safe rendering of the id (the full id is in the Message-ID).
std::string file_safe(std::string_view id) {
  std::string out;
  for (char c : id.substr(0, 150))
    out += (is_alnum(c) || c == '-' || c == '_' || c == '.') ? c : '_';
  return out;
}

std::string file_timestamp(std::chrono::system_clock::time_point when) {
  const auto micros =
      std::chrono::duration_cast<std::chrono::microseconds>(when.time_since_epoch()).count() %
      1000000;
  const std::time_t t = std::chrono::system_clock::to_time_t(when);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d%02d%02dT%02d%02d%02d.%06lldZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<long long>(micros < 0 ? micros + 1000000 : micros));
  return buf;
}

class fd_guard {
 public:
  explicit fd_guard(int fd) : fd_(fd) {}
  ~fd_guard() {
    if (fd_ >= 0) ::close(fd_);
  }
  fd_guard(const fd_guard&) = delete;
  fd_guard& operator=(const fd_guard&) = delete;
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

}  // namespace

file_transport::file_transport(std::filesystem::path directory, std::string message_id_domain)
    : directory_(std::move(directory)), message_id_domain_(std::move(message_id_domain)) {
  check_domain(message_id_domain_);
}

void file_transport::send(const mail_message& message) {
  const auto now = std::chrono::system_clock::now();
  const std::string text = format_rfc5322(message, message.date.value_or(now), message_id_domain_);

  std::error_code ec;
  std::filesystem::create_directories(directory_, ec);
  if (ec) {
    throw mail_error("file_transport: cannot create " + directory_.string() + ": " + ec.message());
  }
  static std::atomic<unsigned long> sequence{0};
  const std::string name = file_timestamp(now) + "-" + file_safe(message.id) + ".eml";
  const std::filesystem::path final_path = directory_ / name;
  // Hidden and without the .eml suffix, so nobody picks it up before the rename.
  const std::filesystem::path temp_path =
      directory_ / ("." + name + ".tmp-" + std::to_string(::getpid()) + "-" +
                    std::to_string(sequence.fetch_add(1)));

  fd_guard file(::open(temp_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (file.get() < 0) file_failure("cannot create", temp_path, errno);
  const auto discard = [&](const std::string& what, int err) {
    ::close(file.release());
    ::unlink(temp_path.c_str());
    file_failure(what, temp_path, err);
  };
  std::size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = ::write(file.get(), text.data() + written, text.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      discard("cannot write", errno);
    }
    written += static_cast<std::size_t>(n);
  }
  if (::fsync(file.get()) != 0) discard("cannot fsync", errno);
  if (::close(file.release()) != 0) {
    const int err = errno;
    ::unlink(temp_path.c_str());
    file_failure("cannot close", temp_path, err);
  }
  if (::rename(temp_path.c_str(), final_path.c_str()) != 0) {
    const int err = errno;
    ::unlink(temp_path.c_str());
    file_failure("cannot rename to", final_path, err);
  }
  // The rename is durable only once the directory itself is synced.
  fd_guard dir(::open(directory_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.get() < 0 || ::fsync(dir.get()) != 0) file_failure("cannot fsync", directory_, errno);
}

// ---------------------------------------------------------------------------------------------
// smtp_transport

namespace {

void init_curl() {
  static std::once_flag once;
  std::call_once(once, [] {
    const CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (rc != CURLE_OK)
      throw mail_error(std::string("curl_global_init: ") + curl_easy_strerror(rc));
  });
}

struct curl_easy_deleter {
  void operator()(CURL* handle) const { curl_easy_cleanup(handle); }
};
struct curl_slist_deleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

// The message text libcurl reads during DATA.
struct upload_source {
  std::string_view data;
  std::size_t position = 0;
};

std::size_t read_upload(char* buffer, std::size_t size, std::size_t count, void* user) {
  auto* source = static_cast<upload_source*>(user);
  const std::size_t n = std::min(size * count, source->data.size() - source->position);
  std::memcpy(buffer, source->data.data() + source->position, n);
  source->position += n;
  return n;
}

// Keeps the server's latest error reply (4xx/5xx; libcurl reports replies as incoming
// "headers"), so an exception can quote the server's own explanation, e.g.
// "550 5.1.1 <x@y>: mailbox unavailable", rather than the "221 bye" that follows it.
int record_reply(CURL*, curl_infotype type, char* data, std::size_t size, void* user) {
  if (type == CURLINFO_HEADER_IN && size > 0 && (data[0] == '4' || data[0] == '5')) {
    auto* reply = static_cast<std::string*>(user);
    std::string_view line(data, std::min<std::size_t>(size, 512));
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
    reply->assign(line);
  }
  return 0;
}

std::string smtp_url(const smtp_config& config) {
  std::string host = config.host;
  if (host.find(':') != std::string::npos && host.front() != '[') host = "[" + host + "]";
  // The path is the domain libcurl announces in EHLO.
  return std::string(config.security == smtp_security::tls ? "smtps://" : "smtp://") + host + ":" +
         std::to_string(config.port) + "/" + config.from_domain;
}

}  // namespace

smtp_transport::smtp_transport(smtp_config config) : config_(std::move(config)) {
  if (config_.host.empty()) throw std::invalid_argument("smtp_transport: host is empty");
  if (config_.port == 0) throw std::invalid_argument("smtp_transport: port is 0");
  check_domain(config_.from_domain);
  init_curl();
}

void smtp_transport::send(const mail_message& message) {
  const std::string text = format_rfc5322(
      message, message.date.value_or(std::chrono::system_clock::now()), config_.from_domain);
  const std::string sender = "<" + mail_address_of(message.from) + ">";
  const std::string recipient_address = mail_address_of(message.to);
  const std::string url = smtp_url(config_);

  std::unique_ptr<CURL, curl_easy_deleter> curl(curl_easy_init());
  if (!curl) throw mail_error("smtp: curl_easy_init failed");
  std::unique_ptr<curl_slist, curl_slist_deleter> recipients(
      curl_slist_append(nullptr, ("<" + recipient_address + ">").c_str()));
  if (!recipients) throw mail_error("smtp: out of memory");

  upload_source source{text};
  char error_buffer[CURL_ERROR_SIZE] = {};
  CURL* h = curl.get();
  const long timeout_ms = static_cast<long>(config_.timeout.count());
  CURLcode rc = CURLE_OK;
  const auto set = [&](CURLoption option, auto value) {
    if (rc == CURLE_OK) rc = curl_easy_setopt(h, option, value);
  };
  set(CURLOPT_ERRORBUFFER, error_buffer);
  set(CURLOPT_URL, url.c_str());
  set(CURLOPT_PROTOCOLS_STR, "smtp,smtps");
  set(CURLOPT_NOSIGNAL, 1L);
  set(CURLOPT_TIMEOUT_MS, timeout_ms);
  set(CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
  set(CURLOPT_USE_SSL,
      static_cast<long>(config_.security == smtp_security::starttls ? CURLUSESSL_ALL
                                                                    : CURLUSESSL_NONE));
  if (!config_.username.empty()) {
    set(CURLOPT_USERNAME, config_.username.c_str());
    set(CURLOPT_PASSWORD, config_.password.c_str());
  }
  set(CURLOPT_MAIL_FROM, sender.c_str());
  set(CURLOPT_MAIL_RCPT, recipients.get());
  std::string last_reply;
  set(CURLOPT_DEBUGFUNCTION, &record_reply);
  set(CURLOPT_DEBUGDATA, &last_reply);
  set(CURLOPT_VERBOSE, 1L);  // only feeds record_reply; nothing is printed
  set(CURLOPT_READFUNCTION, &read_upload);
  set(CURLOPT_READDATA, &source);
  set(CURLOPT_UPLOAD, 1L);
  if (rc != CURLE_OK) {
    throw mail_error(std::string("smtp: cannot configure libcurl: ") + curl_easy_strerror(rc));
  }

  rc = curl_easy_perform(h);
  if (rc != CURLE_OK) {
    long reply = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &reply);
    std::string what = "smtp: sending " + message.id + " to " + recipient_address + " via " + url +
                       " failed: " + curl_easy_strerror(rc);
    if (error_buffer[0] != '\0') what += std::string(": ") + error_buffer;
    if (!last_reply.empty()) {
      what += " (server said: " + last_reply + ")";
    } else if (reply != 0) {
      what += " (last reply " + std::to_string(reply) + ")";
    }
    throw mail_error(what);
  }
}

}  // namespace coachd
