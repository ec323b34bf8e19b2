#pragma once
/// Personal data inside an event: a field of this type is sealed with its data subject's key
/// whenever the event is written to the log (see events/codec.hpp), so the log never holds it
/// in clear and erasing the subject's key erases it everywhere (crypto-shredding).

#include <string>

namespace coachd {

/// A piece of personal data. `erased` is set when it was read back after its subject's key
/// was deleted; `value` is then empty.
struct personal {
  std::string value;
  bool erased = false;

  bool operator==(const personal&) const = default;
};

}  // namespace coachd
