#include "llemma/core/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace llemma {

StatusOr<MappedFile> MappedFile::Open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT) return NotFoundError(path + ": no such file");
    return Status(StatusCode::kUnavailable, path + ": cannot open: " + std::strerror(err));
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return Status(StatusCode::kUnavailable, path + ": cannot stat: " + std::strerror(err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return InvalidArgumentError(path + ": not a regular file");
  }
  MappedFile f;
  f.path_ = path;
  f.size_ = static_cast<size_t>(st.st_size);
  if (f.size_ > 0) {
    void* p = ::mmap(nullptr, f.size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      const int err = errno;
      ::close(fd);
      return Status(StatusCode::kUnavailable, path + ": mmap failed: " + std::strerror(err));
    }
    f.data_ = static_cast<uint8_t*>(p);
  }
  ::close(fd);
  return f;
}

MappedFile::MappedFile(MappedFile&& other) noexcept { *this = std::move(other); }

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    if (data_ != nullptr) ::munmap(data_, size_);
    path_ = std::move(other.path_);
    data_ = other.data_;
    size_ = other.size_;
    other.data_ = nullptr;
    other.size_ = 0;
  }
  return *this;
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) ::munmap(data_, size_);
}

namespace {
// Expands [offset, offset+len) outward to page boundaries inside the mapping.
void PageRange(size_t size, size_t offset, size_t len, size_t* begin, size_t* end) {
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  *begin = offset / page * page;
  *end = std::min(size, (offset + len + page - 1) / page * page);
}
}  // namespace

void MappedFile::WillNeed(size_t offset, size_t len) const {
  if (data_ == nullptr || len == 0) return;
  size_t b, e;
  PageRange(size_, offset, len, &b, &e);
  ::madvise(data_ + b, e - b, MADV_WILLNEED);
}

void MappedFile::Release(size_t offset, size_t len) const {
  if (data_ == nullptr || len == 0) return;
  size_t b, e;
  PageRange(size_, offset, len, &b, &e);
  ::madvise(data_ + b, e - b, MADV_DONTNEED);
}

StatusOr<std::string> ReadFileToString(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return NotFoundError(path + ": no such file");
    return Status(StatusCode::kUnavailable, path + ": cannot open for reading");
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return DataLossError(path + ": read error");
  return ss.str();
}

}  // namespace llemma
