// Direct RocksDB access to a RecordStore's directory, for tests that damage a store or fake
// what a newer MatAlign would have written (behind the store's back).
#ifndef MATALIGN_TESTS_INDEX_RAW_STORE_H_
#define MATALIGN_TESTS_INDEX_RAW_STORE_H_

#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "rocksdb/db.h"

namespace matalign::index::testing {

// Opens every column family of the store in `dir`; closes on destruction. ok() is false
// (with a test failure) if RocksDB cannot open it.
class RawStore {
 public:
  explicit RawStore(const std::string& dir) {
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
    rocksdb::Status s = rocksdb::DB::ListColumnFamilies(rocksdb::Options(), dir, &names_);
    if (s.ok()) {
      for (const auto& n : names_) cfs.emplace_back(n, rocksdb::ColumnFamilyOptions());
      s = rocksdb::DB::Open(rocksdb::Options(), dir, cfs, &handles_, &db_);
    }
    EXPECT_TRUE(s.ok()) << s.ToString();
  }
  ~RawStore() {
    for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h);
    delete db_;
  }
  RawStore(const RawStore&) = delete;
  RawStore& operator=(const RawStore&) = delete;

  bool ok() const { return db_ != nullptr; }
  // Puts key -> value into column family `cf`.
  bool Put(const std::string& cf, const std::string& key, const std::string& value) {
    return db_->Put(rocksdb::WriteOptions(), Handle(cf), key, value).ok();
  }
  // Deletes the first entry of column family `cf`; false if it is empty.
  bool DeleteFirst(const std::string& cf) {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), Handle(cf)));
    it->SeekToFirst();
    return it->Valid() && db_->Delete(rocksdb::WriteOptions(), Handle(cf), it->key()).ok();
  }

 private:
  rocksdb::ColumnFamilyHandle* Handle(const std::string& cf) const {
    for (size_t i = 0; i < names_.size(); ++i) {
      if (names_[i] == cf) return handles_[i];
    }
    ADD_FAILURE() << "no column family " << cf;
    return handles_.at(0);
  }

  std::vector<std::string> names_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  rocksdb::DB* db_ = nullptr;
};

}  // namespace matalign::index::testing

#endif  // MATALIGN_TESTS_INDEX_RAW_STORE_H_
