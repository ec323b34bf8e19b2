#define BOOST_TEST_MODULE mail
#include "infra/mail.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sodium.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using namespace coachd;
namespace fs = std::filesystem;

namespace {

// 2023-11-14T22:13:20Z
const auto fixed_date = std::chrono::system_clock::time_point(std::chrono::seconds(1700000000));

mail_message sample_message() {
  mail_message m;
  m.id = "welcome-3f1c9a2e";
  m.from = "coachd <no-reply@coachd.example>";
  m.to = "client@example.com";
  m.subject = "Welcome to coachd";
  m.text_body = "Hello,\nyour account is ready.\n";
  return m;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t end = text.find("\r\n", start);
    if (end == std::string::npos) {
      lines.push_back(text.substr(start));
      break;
    }
    lines.push_back(text.substr(start, end - start));
    start = end + 2;
  }
  return lines;
}

// Every CR is followed by LF and every LF preceded by CR.
bool crlf_only(const std::string& text) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r' && (i + 1 == text.size() || text[i + 1] != '\n')) return false;
    if (text[i] == '\n' && (i == 0 || text[i - 1] != '\r')) return false;
  }
  return true;
}

std::size_t longest_line(const std::string& text) {
  std::size_t longest = 0;
  for (const auto& line : lines_of(text)) longest = std::max(longest, line.size());
  return longest;
}

struct parsed_message {
  std::vector<std::pair<std::string, std::string>> headers;  // unfolded, in order
  std::string body;

  std::string header(const std::string& name) const {
    std::string found;
    int count = 0;
    for (const auto& [n, v] : headers) {
      if (n == name) {
        found = v;
        ++count;
      }
    }
    BOOST_TEST_INFO("header " << name);
    BOOST_TEST(count == 1);
    return found;
  }
};

parsed_message parse(const std::string& text) {
  parsed_message m;
  const std::size_t end = text.find("\r\n\r\n");
  BOOST_REQUIRE(end != std::string::npos);
  // Unfold: CRLF followed by whitespace is removed (RFC 5322 2.2.3).
  std::string block = text.substr(0, end + 2);
  std::string unfolded;
  for (std::size_t i = 0; i < block.size(); ++i) {
    if (block.compare(i, 2, "\r\n") == 0 && i + 2 < block.size() &&
        (block[i + 2] == ' ' || block[i + 2] == '\t')) {
      ++i;
      continue;
    }
    unfolded += block[i];
  }
  for (const auto& line : lines_of(unfolded)) {
    const std::size_t colon = line.find(':');
    BOOST_REQUIRE(colon != std::string::npos);
    std::string value = line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.erase(0, 1);
    m.headers.emplace_back(line.substr(0, colon), value);
  }
  m.body = text.substr(end + 4);
  return m;
}

std::string base64_decode(const std::string& b64) {
  std::string out(b64.size(), '\0');
  std::size_t len = 0;
  BOOST_REQUIRE(sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(),
                                  b64.data(), b64.size(), nullptr, &len, nullptr,
                                  sodium_base64_VARIANT_ORIGINAL) == 0);
  out.resize(len);
  return out;
}

// RFC 2047 decoding of an unstructured value (B encoding, UTF-8 only): whitespace between
// adjacent encoded-words is dropped.
std::string decode_words(const std::string& value) {
  std::string out;
  std::size_t i = 0;
  std::size_t word_end = std::string::npos;  // where the last encoded-word's text ends in out
  while (i < value.size()) {
    if (value.compare(i, 10, "=?UTF-8?B?") == 0) {
      const std::size_t end = value.find("?=", i + 10);
      BOOST_REQUIRE(end != std::string::npos);
      if (word_end != std::string::npos) out.resize(word_end);  // drop the whitespace between
      out += base64_decode(value.substr(i + 10, end - i - 10));
      i = end + 2;
      word_end = out.size();
      continue;
    }
    if (value[i] != ' ' && value[i] != '\t') word_end = std::string::npos;
    out += value[i++];
  }
  return out;
}

// Quoted-printable decoding; hard line breaks come back as "\n".
std::string qp_decode(const std::string& encoded) {
  std::string out;
  for (std::size_t i = 0; i < encoded.size(); ++i) {
    const char c = encoded[i];
    if (c == '=') {
      if (encoded.compare(i + 1, 2, "\r\n") == 0) {
        i += 2;
        continue;
      }
      BOOST_REQUIRE(i + 2 < encoded.size());
      out += static_cast<char>(std::stoi(encoded.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else if (c == '\r' && encoded.compare(i, 2, "\r\n") == 0) {
      out += '\n';
      ++i;
    } else {
      out += c;
    }
  }
  return out;
}

// A fresh directory under the system's temp dir, removed at the end of the test.
struct temp_dir {
  fs::path path;
  temp_dir() {
    std::string pattern = (fs::temp_directory_path() / "coachd-mail-XXXXXX").string();
    BOOST_REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path = pattern;
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// A minimal SMTP server on 127.0.0.1 (ephemeral port) in a thread: it answers EHLO/HELO,
// MAIL, RCPT, DATA, RSET, NOOP and QUIT, and records what it was given.
class fake_smtp_server {
 public:
  struct transaction {
    std::string ehlo, mail_from;
    std::vector<std::string> recipients;
    std::string data;  // dot-stuffing undone, lines ending in CRLF
  };

  explicit fake_smtp_server(int rcpt_reply = 250) : rcpt_reply_(rcpt_reply) {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    BOOST_REQUIRE(listener_ >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    BOOST_REQUIRE(::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    BOOST_REQUIRE(::listen(listener_, 8) == 0);
    socklen_t len = sizeof addr;
    BOOST_REQUIRE(::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~fake_smtp_server() {
    stop_ = true;
    thread_.join();
    ::close(listener_);
  }

  std::uint16_t port() const { return port_; }
  std::vector<transaction> transactions() {
    std::lock_guard lock(mutex_);
    return done_;
  }
  std::vector<std::string> commands() {
    std::lock_guard lock(mutex_);
    return commands_;
  }

 private:
  void serve() {
    while (!stop_) {
      pollfd p{listener_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const int client = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client < 0) continue;
      timeval tv{5, 0};
      ::setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      session(client);
      ::close(client);
    }
  }

  static void reply(int fd, const std::string& line) {
    const std::string out = line + "\r\n";
    (void)::send(fd, out.data(), out.size(), MSG_NOSIGNAL);
  }

  void session(int fd) {
    std::string buffer;
    const auto read_line = [&](std::string& line) {
      for (;;) {
        const std::size_t end = buffer.find("\r\n");
        if (end != std::string::npos) {
          line = buffer.substr(0, end);
          buffer.erase(0, end + 2);
          return true;
        }
        char chunk[4096];
        const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
        if (n <= 0) return false;
        buffer.append(chunk, static_cast<std::size_t>(n));
      }
    };
    reply(fd, "220 fake.test ESMTP ready");
    transaction current;
    std::string line;
    while (read_line(line)) {
      {
        std::lock_guard lock(mutex_);
        commands_.push_back(line);
      }
      std::string verb = line.substr(0, 4);
      for (char& c : verb) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      if (verb == "EHLO" || verb == "HELO") {
        current = transaction{};
        current.ehlo = line.size() > 5 ? line.substr(5) : "";
        reply(fd, "250 fake.test");
      } else if (verb == "MAIL") {
        current.mail_from = line.substr(line.find(':') + 1);
        reply(fd, "250 OK");
      } else if (verb == "RCPT") {
        if (rcpt_reply_ == 250) {
          current.recipients.push_back(line.substr(line.find(':') + 1));
          reply(fd, "250 OK");
        } else {
          reply(fd,
                std::to_string(rcpt_reply_) + " 5.1.1 <nobody@example.com>: mailbox unavailable");
        }
      } else if (verb == "DATA") {
        reply(fd, "354 end with <CRLF>.<CRLF>");
        std::string data_line;
        bool complete = false;
        while (read_line(data_line)) {
          if (data_line == ".") {
            complete = true;
            break;
          }
          if (!data_line.empty() && data_line.front() == '.') data_line.erase(0, 1);
          current.data += data_line + "\r\n";
        }
        if (!complete) return;
        {
          std::lock_guard lock(mutex_);
          done_.push_back(current);
        }
        reply(fd, "250 OK queued");
      } else if (verb == "RSET") {
        current.mail_from.clear();
        current.recipients.clear();
        reply(fd, "250 OK");
      } else if (verb == "NOOP") {
        reply(fd, "250 OK");
      } else if (verb == "QUIT") {
        reply(fd, "221 bye");
        return;
      } else {
        reply(fd, "502 command not implemented");
      }
    }
  }

  int rcpt_reply_;
  int listener_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mutex_;
  std::vector<transaction> done_;
  std::vector<std::string> commands_;
};

smtp_config local_smtp(std::uint16_t port) {
  smtp_config config;
  config.host = "127.0.0.1";
  config.port = port;
  config.security = smtp_security::none;
  config.from_domain = "mail.coachd.test";
  config.timeout = std::chrono::seconds(10);
  return config;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(rfc5322)

BOOST_AUTO_TEST_CASE(plain_message_has_every_header_and_crlf_line_endings) {
  const std::string text = format_rfc5322(sample_message(), fixed_date);
  BOOST_TEST(crlf_only(text));
  BOOST_TEST(text.ends_with("\r\n"));
  BOOST_TEST(longest_line(text) <= 78u);
  const parsed_message m = parse(text);
  BOOST_TEST(m.header("Date") == "Tue, 14 Nov 2023 22:13:20 +0000");
  BOOST_TEST(m.header("From") == "coachd <no-reply@coachd.example>");
  BOOST_TEST(m.header("To") == "client@example.com");
  BOOST_TEST(m.header("Subject") == "Welcome to coachd");
  BOOST_TEST(m.header("Message-ID") == "<welcome-3f1c9a2e@coachd.local>");
  BOOST_TEST(m.header("MIME-Version") == "1.0");
  BOOST_TEST(m.header("Content-Type") == "text/plain; charset=UTF-8");
  BOOST_TEST(m.header("Content-Transfer-Encoding") == "quoted-printable");
  BOOST_TEST(qp_decode(m.body) == "Hello,\nyour account is ready.\n");
}

BOOST_AUTO_TEST_CASE(date_is_formatted_in_utc_with_two_digit_day) {
  // 2024-03-05T07:08:09Z, a Tuesday.
  const auto date = std::chrono::system_clock::time_point(std::chrono::seconds(1709622489));
  BOOST_TEST(parse(format_rfc5322(sample_message(), date)).header("Date") ==
             "Tue, 05 Mar 2024 07:08:09 +0000");
}

BOOST_AUTO_TEST_CASE(message_id_domain_is_configurable_and_id_is_made_legal) {
  mail_message message = sample_message();
  BOOST_TEST(parse(format_rfc5322(message, fixed_date, "mail.example.org")).header("Message-ID") ==
             "<welcome-3f1c9a2e@mail.example.org>");
  message.id = "intake:42/welcome mail.";
  BOOST_TEST(parse(format_rfc5322(message, fixed_date)).header("Message-ID") ==
             "<intake%3A42/welcome%20mail%2E@coachd.local>");
  BOOST_CHECK_THROW(format_rfc5322(message, fixed_date, "bad domain"), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(non_ascii_subject_is_encoded_and_round_trips) {
  const std::vector<std::string> subjects = {
      "Zoë, your session is confirmed",
      "Willkommen bei coachd – Ihre Sitzung am Dienstag ist bestätigt 🎉 (Raum ß-Ü)",
      "你好，欢迎来到 coachd！你的下一次教练课程已经确认。请准时参加，我们期待与你见面。",
      "ASCII, but looks like =?an encoded word?= so it must be encoded",
      std::string(120, 'x') + " " + std::string(3, 'y'),
      std::string(1200, 'z'),
  };
  for (const auto& subject : subjects) {
    mail_message message = sample_message();
    message.subject = subject;
    const std::string text = format_rfc5322(message, fixed_date);
    BOOST_TEST_INFO("subject: " << subject);
    BOOST_TEST(crlf_only(text));
    BOOST_TEST(longest_line(text) <= 998u);
    const std::string value = parse(text).header("Subject");
    BOOST_TEST(decode_words(value) == subject);
    const bool ascii = std::all_of(subject.begin(), subject.end(),
                                   [](char c) { return static_cast<unsigned char>(c) < 0x80; });
    if (!ascii) {
      BOOST_TEST(value.starts_with("=?UTF-8?B?"));
      BOOST_TEST(longest_line(text) <= 78u);
    }
  }
}

BOOST_AUTO_TEST_CASE(plain_ascii_subject_is_folded_at_whitespace) {
  mail_message message = sample_message();
  message.subject.clear();
  for (int i = 0; i < 30; ++i) message.subject += "word" + std::to_string(i) + " ";
  message.subject += "end";
  const std::string text = format_rfc5322(message, fixed_date);
  BOOST_TEST(longest_line(text) <= 78u);
  BOOST_TEST(parse(text).header("Subject") == message.subject);
}

BOOST_AUTO_TEST_CASE(display_names_are_quoted_or_encoded) {
  mail_message message = sample_message();
  message.from = "\"Doe, Jane\" <jane@coachd.example>";
  message.to = "Zoë Bäcker <zoe@example.com>";
  const parsed_message m = parse(format_rfc5322(message, fixed_date));
  BOOST_TEST(m.header("From") == "\"Doe, Jane\" <jane@coachd.example>");
  BOOST_TEST(decode_words(m.header("To")) == "Zoë Bäcker <zoe@example.com>");
  BOOST_TEST(m.header("To").starts_with("=?UTF-8?B?"));
  BOOST_TEST(mail_address_of(message.to) == "zoe@example.com");
  BOOST_TEST(mail_address_of(" plain@example.com ") == "plain@example.com");
}

BOOST_AUTO_TEST_CASE(quoted_printable_body_decodes_to_the_original_text) {
  const std::vector<std::string> bodies = {
      "",
      "no newline at the end",
      "Grüße aus München — ça va? 你好 🎉\n",
      "trailing spaces   \nand tabs\t\t\nend",
      "a=b and == signs, 100% =3D not an escape\n",
      ".a line starting with a dot\n.\n..\nFrom the start of a line\nFrom here\n",
      std::string(300, 'a') + "\n" + std::string(500, 'b'),
      "windows\r\nline\r\nendings\r\n",
      "\n\n\nblank lines\n\n",
      std::string(200, ' ') + "x",
  };
  for (const auto& body : bodies) {
    mail_message message = sample_message();
    message.text_body = body;
    const std::string text = format_rfc5322(message, fixed_date);
    BOOST_TEST_INFO("body: " << body.substr(0, 60));
    BOOST_TEST(crlf_only(text));
    BOOST_TEST(longest_line(parse(text).body) <= 76u);
    std::string expected = body;
    for (std::size_t p; (p = expected.find("\r\n")) != std::string::npos;) expected.erase(p, 1);
    BOOST_TEST(qp_decode(parse(text).body) == expected);
    for (const auto& line : lines_of(parse(text).body)) {
      BOOST_TEST(!line.starts_with("."));
      BOOST_TEST(!line.starts_with("From "));
      BOOST_TEST((line.empty() || (line.back() != ' ' && line.back() != '\t')));
    }
  }
}

BOOST_AUTO_TEST_CASE(random_utf8_bodies_round_trip_with_short_lines) {
  const std::vector<std::string> pieces = {"a",     " ", "  ", "\t", "=",  ".",    "\n", "\r\n",
                                           "From ", "é", "€",  "🎉",  "你", "x=3D", "~",  "0"};
  std::mt19937 rng(20240601);
  for (int round = 0; round < 300; ++round) {
    std::string body;
    const int count = static_cast<int>(rng() % 400);
    for (int i = 0; i < count; ++i) body += pieces[rng() % pieces.size()];
    mail_message message = sample_message();
    message.text_body = body;
    const std::string text = format_rfc5322(message, fixed_date);
    BOOST_TEST_INFO("round " << round);
    BOOST_TEST(crlf_only(text));
    BOOST_TEST(longest_line(text) <= 78u);
    std::string expected = body;
    for (std::size_t p; (p = expected.find("\r\n")) != std::string::npos;) expected.erase(p, 1);
    BOOST_TEST(qp_decode(parse(text).body) == expected);
  }
}

BOOST_AUTO_TEST_CASE(html_body_makes_multipart_alternative) {
  mail_message message = sample_message();
  message.text_body = "Hällo text";
  message.html_body = "<p>H&auml;llo <b>html</b> — ünïcode</p>\n";
  const std::string text = format_rfc5322(message, fixed_date);
  BOOST_TEST(crlf_only(text));
  BOOST_TEST(longest_line(text) <= 78u);
  const parsed_message m = parse(text);
  const std::string content_type = m.header("Content-Type");
  BOOST_TEST(content_type.starts_with("multipart/alternative;"));
  const std::size_t b = content_type.find("boundary=\"");
  BOOST_REQUIRE(b != std::string::npos);
  const std::string boundary =
      content_type.substr(b + 10, content_type.find('"', b + 10) - (b + 10));
  const std::string delimiter = "\r\n--" + boundary;
  // Body: "--b CRLF part1 CRLF--b CRLF part2 CRLF--b-- CRLF".
  const std::string body = "\r\n" + m.body;
  std::vector<std::string> parts;
  std::size_t pos = body.find(delimiter);
  BOOST_REQUIRE(pos == 0u);
  for (;;) {
    const std::size_t start = body.find("\r\n", pos + delimiter.size()) + 2;
    if (body.compare(pos + delimiter.size(), 2, "--") == 0) break;
    const std::size_t next = body.find(delimiter, start);
    BOOST_REQUIRE(next != std::string::npos);
    parts.push_back(body.substr(start, next - start));
    pos = next;
  }
  BOOST_REQUIRE(parts.size() == 2u);
  const parsed_message text_part = parse(parts[0]);
  const parsed_message html_part = parse(parts[1]);
  BOOST_TEST(text_part.header("Content-Type") == "text/plain; charset=UTF-8");
  BOOST_TEST(html_part.header("Content-Type") == "text/html; charset=UTF-8");
  BOOST_TEST(html_part.header("Content-Transfer-Encoding") == "quoted-printable");
  BOOST_TEST(qp_decode(text_part.body) == message.text_body);
  BOOST_TEST(qp_decode(html_part.body) == message.html_body);
}

BOOST_AUTO_TEST_CASE(extra_headers_are_written_and_checked) {
  mail_message message = sample_message();
  message.extra_headers = {{"Auto-Submitted", "auto-generated"},
                           {"List-Unsubscribe", "<https://coachd.example/unsubscribe/abc>"}};
  const parsed_message m = parse(format_rfc5322(message, fixed_date));
  BOOST_TEST(m.header("Auto-Submitted") == "auto-generated");
  BOOST_TEST(m.header("List-Unsubscribe") == "<https://coachd.example/unsubscribe/abc>");

  for (const auto& [name, value] :
       std::vector<std::pair<std::string, std::string>>{{"Bcc", "someone@example.com"},
                                                        {"content-type", "text/html"},
                                                        {"Bad Name", "x"},
                                                        {"Bad:Name", "x"},
                                                        {"", "x"},
                                                        {"X-Note", "non-ascii é"}}) {
    mail_message bad = sample_message();
    bad.extra_headers = {{name, value}};
    BOOST_TEST_INFO(name);
    BOOST_CHECK_THROW(format_rfc5322(bad, fixed_date), std::invalid_argument);
  }
}

BOOST_AUTO_TEST_CASE(header_injection_is_refused) {
  const auto refuses = [](auto mutate) {
    mail_message message = sample_message();
    mutate(message);
    BOOST_CHECK_THROW(format_rfc5322(message, fixed_date), std::invalid_argument);
  };
  refuses([](mail_message& m) { m.subject = "Hi\r\nBcc: victim@example.com"; });
  refuses([](mail_message& m) { m.subject = "Hi\nBcc: victim@example.com"; });
  refuses([](mail_message& m) { m.subject = "Hi\rBcc: victim@example.com"; });
  refuses([](mail_message& m) { m.to = "client@example.com\r\nBcc: victim@example.com"; });
  refuses([](mail_message& m) { m.to = "Client\n <client@example.com>"; });
  refuses([](mail_message& m) { m.from = "a@example.com\nX-Evil: 1"; });
  refuses([](mail_message& m) { m.extra_headers = {{"X-Tag", "a\r\nBcc: victim@example.com"}}; });
  refuses([](mail_message& m) { m.subject = std::string("nul\0byte", 8); });
  // Malformed addresses, ids and non-UTF-8 text.
  refuses([](mail_message& m) { m.to = "not an address"; });
  refuses([](mail_message& m) { m.to = "a@b@"; });
  refuses([](mail_message& m) { m.to = "a, b@example.com"; });
  refuses([](mail_message& m) { m.to = "zoë@example.com"; });
  refuses([](mail_message& m) { m.id.clear(); });
  refuses([](mail_message& m) { m.text_body = "\xff\xfe"; });
  refuses([](mail_message& m) { m.subject = "\xc3"; });
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(transports)

BOOST_AUTO_TEST_CASE(file_transport_writes_one_complete_eml_atomically) {
  temp_dir tmp;
  const fs::path dir = tmp.path / "var" / "mail";  // created by the transport
  file_transport transport(dir);
  mail_message message = sample_message();
  message.date = fixed_date;
  message.id = "welcome/../../etc";  // must not escape the directory
  transport.send(message);

  std::vector<fs::path> entries;
  for (const auto& e : fs::directory_iterator(dir)) entries.push_back(e.path());
  BOOST_REQUIRE(entries.size() == 1u);  // no temporary file left behind
  const fs::path eml = entries.front();
  BOOST_TEST(eml.extension() == ".eml");
  BOOST_TEST(eml.filename().string().ends_with("-welcome_.._.._etc.eml"));
  BOOST_TEST(read_file(eml) == format_rfc5322(message, fixed_date));
  struct stat st {};
  BOOST_REQUIRE(::stat(eml.c_str(), &st) == 0);
  BOOST_TEST((st.st_mode & 0777) == 0600u);  // personal data: owner only

  message.id = "second";
  transport.send(message);
  std::size_t count = 0;
  for (const auto& e : fs::directory_iterator(dir)) count += e.path().extension() == ".eml";
  BOOST_TEST(count == 2u);
}

BOOST_AUTO_TEST_CASE(file_transport_reports_an_unwritable_directory) {
  temp_dir tmp;
  const fs::path blocker = tmp.path / "file";
  std::ofstream(blocker) << "x";
  file_transport transport(blocker / "mail");
  BOOST_CHECK_THROW(transport.send(sample_message()), mail_error);
}

BOOST_AUTO_TEST_CASE(smtp_transport_delivers_the_formatted_message) {
  fake_smtp_server server;
  smtp_transport transport(local_smtp(server.port()));
  mail_message message = sample_message();
  message.date = fixed_date;
  message.to = "Zoë Bäcker <zoe@example.com>";
  message.subject = "Grüße";
  message.text_body = ".starts with a dot\n.\nand a long line " + std::string(200, 'x') + "\n";
  message.html_body = "<p>hi</p>";
  transport.send(message);

  const auto transactions = server.transactions();
  BOOST_REQUIRE(transactions.size() == 1u);
  const auto& t = transactions.front();
  BOOST_TEST(t.ehlo == "mail.coachd.test");
  BOOST_TEST(t.mail_from == "<no-reply@coachd.example>");
  BOOST_REQUIRE(t.recipients.size() == 1u);
  BOOST_TEST(t.recipients.front() == "<zoe@example.com>");
  BOOST_TEST(t.data == format_rfc5322(message, fixed_date, "mail.coachd.test"));
  BOOST_TEST(parse(t.data).header("Message-ID") == "<welcome-3f1c9a2e@mail.coachd.test>");
}

BOOST_AUTO_TEST_CASE(smtp_transport_throws_when_the_recipient_is_refused) {
  fake_smtp_server server(550);
  smtp_transport transport(local_smtp(server.port()));
  try {
    transport.send(sample_message());
    BOOST_FAIL("send did not throw");
  } catch (const mail_error& e) {
    const std::string what = e.what();
    BOOST_TEST_MESSAGE("error: " << what);
    BOOST_TEST(what.find("550") != std::string::npos);
    BOOST_TEST(what.find("mailbox unavailable") != std::string::npos);
    BOOST_TEST(what.find("client@example.com") != std::string::npos);
  }
  BOOST_TEST(server.transactions().empty());
}

BOOST_AUTO_TEST_CASE(smtp_transport_throws_when_nothing_listens) {
  std::uint16_t port = 0;
  {
    fake_smtp_server closed;  // learn a free port, then close it
    port = closed.port();
  }
  smtp_config config = local_smtp(port);
  config.timeout = std::chrono::seconds(5);
  smtp_transport transport(config);
  try {
    transport.send(sample_message());
    BOOST_FAIL("send did not throw");
  } catch (const mail_error& e) {
    BOOST_TEST_MESSAGE("error: " << e.what());
    BOOST_TEST(std::string(e.what()).find("127.0.0.1") != std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(smtp_transport_with_starttls_refuses_a_server_without_it) {
  fake_smtp_server server;  // does not offer STARTTLS
  smtp_config config = local_smtp(server.port());
  config.security = smtp_security::starttls;
  smtp_transport transport(config);
  BOOST_CHECK_THROW(transport.send(sample_message()), mail_error);
  // Nothing of the message went over the unencrypted connection.
  for (const auto& command : server.commands()) {
    BOOST_TEST_INFO(command);
    BOOST_TEST(!command.starts_with("MAIL"));
    BOOST_TEST(!command.starts_with("RCPT"));
  }
  BOOST_TEST(server.transactions().empty());
}

BOOST_AUTO_TEST_CASE(smtp_transport_rejects_a_malformed_message_before_connecting) {
  fake_smtp_server server;
  smtp_transport transport(local_smtp(server.port()));
  mail_message message = sample_message();
  message.subject = "x\r\nBcc: victim@example.com";
  BOOST_CHECK_THROW(transport.send(message), std::invalid_argument);
  BOOST_TEST(server.commands().empty());
}

BOOST_AUTO_TEST_SUITE_END()
