//! The run's heap limit, enforced by the allocator QuickJS allocates through.
//!
//! QuickJS has a limit of its own, but when it refuses an allocation nothing outside
//! the engine learns of it, and when the refusal hits while building the "out of
//! memory" error itself, the exception is `null`. Owning the allocator lets the runner
//! tell a memory-limit failure from anything user code threw.

use std::cell::Cell;
use std::rc::Rc;

use rquickjs::allocator::{Allocator, RustAllocator};

pub(crate) struct BudgetAllocator {
    inner: RustAllocator,
    used: usize,
    limit: usize,
    refused: Rc<Cell<bool>>,
}

impl BudgetAllocator {
    /// `refused` turns true the first time an allocation is refused for the budget.
    pub(crate) fn new(limit: usize, refused: Rc<Cell<bool>>) -> Self {
        Self {
            inner: RustAllocator,
            used: 0,
            limit,
            refused,
        }
    }

    fn admit(&mut self, extra: usize) -> bool {
        let fits = self
            .used
            .checked_add(extra)
            .is_some_and(|total| total <= self.limit);
        if !fits {
            self.refused.set(true);
        }
        fits
    }
}

// SAFETY: every block comes from `RustAllocator` and goes back to it; this type only
// counts bytes and refuses requests past the budget by returning null, which QuickJS
// handles as an allocation failure.
unsafe impl Allocator for BudgetAllocator {
    fn alloc(&mut self, size: usize) -> *mut u8 {
        if !self.admit(size) {
            return std::ptr::null_mut();
        }
        let block = self.inner.alloc(size);
        if !block.is_null() {
            // SAFETY: `block` was just returned by `RustAllocator`.
            self.used += unsafe { RustAllocator::usable_size(block) };
        }
        block
    }

    fn calloc(&mut self, count: usize, size: usize) -> *mut u8 {
        let Some(total) = count.checked_mul(size) else {
            return std::ptr::null_mut();
        };
        if !self.admit(total) {
            return std::ptr::null_mut();
        }
        let block = self.inner.calloc(count, size);
        if !block.is_null() {
            // SAFETY: `block` was just returned by `RustAllocator`.
            self.used += unsafe { RustAllocator::usable_size(block) };
        }
        block
    }

    unsafe fn dealloc(&mut self, block: *mut u8) {
        // SAFETY: QuickJS only frees blocks this allocator handed out.
        unsafe {
            self.used = self.used.saturating_sub(RustAllocator::usable_size(block));
            self.inner.dealloc(block);
        }
    }

    unsafe fn realloc(&mut self, block: *mut u8, new_size: usize) -> *mut u8 {
        if block.is_null() {
            return self.alloc(new_size);
        }
        // SAFETY: QuickJS only resizes blocks this allocator handed out.
        let old_size = unsafe { RustAllocator::usable_size(block) };
        if new_size > old_size && !self.admit(new_size - old_size) {
            return std::ptr::null_mut();
        }
        // SAFETY: as above; on success the old block is consumed.
        let resized = unsafe { self.inner.realloc(block, new_size) };
        if !resized.is_null() {
            // SAFETY: `resized` was just returned by `RustAllocator`.
            let new_usable = unsafe { RustAllocator::usable_size(resized) };
            self.used = self.used.saturating_sub(old_size) + new_usable;
        }
        resized
    }

    unsafe fn usable_size(block: *mut u8) -> usize {
        // SAFETY: forwarded from QuickJS, which passes blocks of this allocator.
        unsafe { RustAllocator::usable_size(block) }
    }
}
