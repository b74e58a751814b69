//! A minimal pickle virtual machine: enough of protocols 2–4 to read what `torch.save` writes
//! (state dicts of tensors), and nothing that executes code.
//!
//! Globals are not imported: `GLOBAL` yields a [`Value::Global`] naming the callable, and
//! `REDUCE` / `NEWOBJ` yield an [`Object`] recording the call (class and arguments), except for
//! `collections.OrderedDict`, which becomes a [`Value::Dict`]. Persistent ids (`BINPERSID`,
//! how torch refers to tensor storages) become [`Value::PersistentId`]. Interpreting those
//! records — e.g. `torch._utils._rebuild_tensor_v2` — is the caller's business (see `pth.rs`).

use std::cell::RefCell;
use std::rc::Rc;

use crate::error::{Error, Result};

/// A call recorded by `REDUCE` / `NEWOBJ`, with the state `BUILD` gave it.
#[derive(Debug)]
pub struct Object {
    /// `(module, name)` of the callable.
    pub class: (String, String),
    /// Positional arguments.
    pub args: Vec<Value>,
    /// State set by `BUILD`, if any.
    pub state: RefCell<Option<Value>>,
}

/// A value on the pickle stack.
#[derive(Debug, Clone)]
pub enum Value {
    /// `None`.
    None,
    /// `True` / `False`.
    Bool(bool),
    /// An integer that fits in 64 bits.
    Int(i64),
    /// A longer integer: its little-endian two's-complement bytes.
    BigInt(Vec<u8>),
    /// A float.
    Float(f64),
    /// A text (or byte) string.
    Str(String),
    /// A bytes object.
    Bytes(Vec<u8>),
    /// A tuple.
    Tuple(Rc<Vec<Value>>),
    /// A list (shared: the memo and the stack see the same list).
    List(Rc<RefCell<Vec<Value>>>),
    /// A dict or `OrderedDict`, in insertion order.
    Dict(Rc<RefCell<Vec<(Value, Value)>>>),
    /// A callable named by `GLOBAL` / `STACK_GLOBAL`.
    Global(String, String),
    /// The result of calling a global.
    Object(Rc<Object>),
    /// A persistent id (`BINPERSID`), unresolved.
    PersistentId(Rc<Value>),
}

impl Value {
    /// A short description of the value's kind, for error messages.
    pub fn kind(&self) -> String {
        match self {
            Value::None => "None".into(),
            Value::Bool(_) => "a bool".into(),
            Value::Int(_) | Value::BigInt(_) => "an int".into(),
            Value::Float(_) => "a float".into(),
            Value::Str(_) => "a str".into(),
            Value::Bytes(_) => "bytes".into(),
            Value::Tuple(t) => format!("a tuple of {}", t.len()),
            Value::List(l) => format!("a list of {}", l.borrow().len()),
            Value::Dict(d) => format!("a dict of {}", d.borrow().len()),
            Value::Global(m, n) => format!("the global {m}.{n}"),
            Value::Object(o) => format!("a {}.{} object", o.class.0, o.class.1),
            Value::PersistentId(_) => "a persistent id".into(),
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The integer, if this is one that fits in 64 bits.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Bool(b) => Some(*b as i64),
            _ => None,
        }
    }

    /// The items of a tuple or list.
    pub fn items(&self) -> Option<Vec<Value>> {
        match self {
            Value::Tuple(t) => Some(t.to_vec()),
            Value::List(l) => Some(l.borrow().clone()),
            _ => None,
        }
    }
}

/// Upper bound on memo slots and stack depth (a corrupt file cannot make us allocate without end).
const LIMIT: usize = 1 << 24;

struct Vm<'a> {
    what: &'a str,
    bytes: &'a [u8],
    pos: usize,
    stack: Vec<Value>,
    marks: Vec<usize>,
    memo: Vec<Option<Value>>,
}

/// Run the pickle that starts at `bytes[0]` up to its `STOP`; returns the value and the number of
/// bytes consumed. `what` names the input in errors.
pub fn load(what: &str, bytes: &[u8]) -> Result<(Value, usize)> {
    let mut vm = Vm { what, bytes, pos: 0, stack: Vec::new(), marks: Vec::new(), memo: Vec::new() };
    loop {
        let at = vm.pos;
        let op = vm.take(1)?[0];
        if op == b'.' {
            let v = vm.pop(at)?;
            return Ok((v, vm.pos));
        }
        vm.step(op, at)?;
        if vm.stack.len() > LIMIT {
            return Err(vm.err(at, "stack too deep".into()));
        }
    }
}

impl Vm<'_> {
    fn err(&self, at: usize, msg: String) -> Error {
        Error::Weights(format!("{}: bad pickle at byte {at}: {msg}", self.what))
    }

    fn take(&mut self, n: usize) -> Result<&[u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len()).ok_or_else(|| {
            Error::Weights(format!(
                "{}: pickle truncated at byte {} (needs {n} more bytes, {} left)",
                self.what,
                self.pos,
                self.bytes.len() - self.pos
            ))
        })?;
        let s = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn skip(&mut self, n: usize) -> Result<()> {
        self.take(n).map(|_| ())
    }

    fn uint(&mut self, n: usize) -> Result<usize> {
        let b = self.take(n)?;
        let mut v = 0u64;
        for (i, &x) in b.iter().enumerate() {
            v |= (x as u64) << (8 * i);
        }
        Ok(v as usize)
    }

    fn line(&mut self, at: usize) -> Result<String> {
        let rest = &self.bytes[self.pos..];
        let n = rest.iter().position(|&b| b == b'\n').ok_or_else(|| self.err(at, "unterminated line".into()))?;
        let s = String::from_utf8_lossy(&rest[..n]).into_owned();
        self.pos += n + 1;
        Ok(s)
    }

    fn pop(&mut self, at: usize) -> Result<Value> {
        let floor = self.marks.last().copied().unwrap_or(0);
        if self.stack.len() <= floor {
            return Err(self.err(at, "stack underflow".into()));
        }
        Ok(self.stack.pop().expect("checked"))
    }

    fn pop_mark(&mut self, at: usize) -> Result<Vec<Value>> {
        let m = self.marks.pop().ok_or_else(|| self.err(at, "no MARK on the stack".into()))?;
        Ok(self.stack.split_off(m))
    }

    fn top(&self, at: usize) -> Result<&Value> {
        self.stack.last().ok_or_else(|| self.err(at, "stack underflow".into()))
    }

    fn put(&mut self, idx: usize, at: usize) -> Result<()> {
        if idx > LIMIT {
            return Err(self.err(at, format!("memo index {idx} out of range")));
        }
        let v = self.top(at)?.clone();
        if self.memo.len() <= idx {
            self.memo.resize(idx + 1, None);
        }
        self.memo[idx] = Some(v);
        Ok(())
    }

    fn get(&mut self, idx: usize, at: usize) -> Result<()> {
        let v = self.memo.get(idx).cloned().flatten().ok_or_else(|| self.err(at, format!("memo key {idx} unset")))?;
        self.stack.push(v);
        Ok(())
    }

    fn string(&mut self, n: usize) -> Result<Value> {
        let b = self.take(n)?;
        Ok(Value::Str(String::from_utf8_lossy(b).into_owned()))
    }

    fn bytes_value(&mut self, n: usize) -> Result<Value> {
        Ok(Value::Bytes(self.take(n)?.to_vec()))
    }

    fn long(&mut self, n: usize) -> Result<Value> {
        let b = self.take(n)?.to_vec();
        if b.len() > 8 {
            return Ok(Value::BigInt(b));
        }
        let mut v: i64 = 0;
        for (i, &x) in b.iter().enumerate() {
            v |= (x as i64) << (8 * i);
        }
        if let Some(&last) = b.last() {
            if last & 0x80 != 0 && b.len() < 8 {
                v -= 1i64 << (8 * b.len());
            }
        }
        Ok(Value::Int(v))
    }

    fn tuple(&mut self, n: usize, at: usize) -> Result<()> {
        if self.stack.len() < n + self.marks.last().copied().unwrap_or(0) {
            return Err(self.err(at, "stack underflow".into()));
        }
        let items = self.stack.split_off(self.stack.len() - n);
        self.stack.push(Value::Tuple(Rc::new(items)));
        Ok(())
    }

    /// One opcode (all but `STOP`).
    fn step(&mut self, op: u8, at: usize) -> Result<()> {
        match op {
            0x80 => self.skip(1)?,                     // PROTO
            0x95 => self.skip(8)?,                     // FRAME
            b'(' => self.marks.push(self.stack.len()), // MARK
            b'0' => drop(self.pop(at)?),               // POP
            b'1' => drop(self.pop_mark(at)?),          // POP_MARK
            b'2' => {
                let v = self.top(at)?.clone();
                self.stack.push(v)
            }
            b'N' => self.stack.push(Value::None),
            0x88 => self.stack.push(Value::Bool(true)),
            0x89 => self.stack.push(Value::Bool(false)),
            b'J' => {
                let v = self.uint(4)? as u32 as i32;
                self.stack.push(Value::Int(v as i64))
            }
            b'K' => {
                let v = self.uint(1)?;
                self.stack.push(Value::Int(v as i64))
            }
            b'M' => {
                let v = self.uint(2)?;
                self.stack.push(Value::Int(v as i64))
            }
            0x8a => {
                let n = self.uint(1)?;
                let v = self.long(n)?;
                self.stack.push(v)
            }
            0x8b => {
                let n = self.uint(4)?;
                let v = self.long(n)?;
                self.stack.push(v)
            }
            b'G' => {
                let b: [u8; 8] = self.take(8)?.try_into().expect("8 bytes");
                self.stack.push(Value::Float(f64::from_be_bytes(b)))
            }
            _ => return self.step_strings(op, at),
        }
        Ok(())
    }

    fn step_strings(&mut self, op: u8, at: usize) -> Result<()> {
        let v = match op {
            b'X' | b'T' => {
                let n = self.uint(4)?;
                self.string(n)?
            }
            0x8c | b'U' => {
                let n = self.uint(1)?;
                self.string(n)?
            }
            0x8d => {
                let n = self.uint(8)?;
                self.string(n)?
            }
            b'B' => {
                let n = self.uint(4)?;
                self.bytes_value(n)?
            }
            b'C' => {
                let n = self.uint(1)?;
                self.bytes_value(n)?
            }
            0x8e => {
                let n = self.uint(8)?;
                self.bytes_value(n)?
            }
            _ => return self.step_containers(op, at),
        };
        self.stack.push(v);
        Ok(())
    }

    fn step_containers(&mut self, op: u8, at: usize) -> Result<()> {
        match op {
            b')' => self.stack.push(Value::Tuple(Rc::new(Vec::new()))),
            b't' => {
                let items = self.pop_mark(at)?;
                self.stack.push(Value::Tuple(Rc::new(items)))
            }
            0x85 => self.tuple(1, at)?,
            0x86 => self.tuple(2, at)?,
            0x87 => self.tuple(3, at)?,
            b']' => self.stack.push(Value::List(Rc::new(RefCell::new(Vec::new())))),
            b'l' => {
                let items = self.pop_mark(at)?;
                self.stack.push(Value::List(Rc::new(RefCell::new(items))))
            }
            b'a' => {
                let v = self.pop(at)?;
                self.append(vec![v], at)?
            }
            b'e' => {
                let items = self.pop_mark(at)?;
                self.append(items, at)?
            }
            b'}' => self.stack.push(Value::Dict(Rc::new(RefCell::new(Vec::new())))),
            b'd' => {
                let items = self.pop_mark(at)?;
                let d = Value::Dict(Rc::new(RefCell::new(Vec::new())));
                set_items(&d, items).map_err(|m| self.err(at, m))?;
                self.stack.push(d)
            }
            b's' => {
                let v = self.pop(at)?;
                let k = self.pop(at)?;
                let d = self.top(at)?.clone();
                set_items(&d, vec![k, v]).map_err(|m| self.err(at, m))?
            }
            b'u' => {
                let items = self.pop_mark(at)?;
                let d = self.top(at)?.clone();
                set_items(&d, items).map_err(|m| self.err(at, m))?
            }
            _ => return self.step_objects(op, at),
        }
        Ok(())
    }

    fn append(&mut self, items: Vec<Value>, at: usize) -> Result<()> {
        match self.top(at)? {
            Value::List(l) => {
                l.borrow_mut().extend(items);
                Ok(())
            }
            other => Err(self.err(at, format!("APPEND to {}", other.kind()))),
        }
    }

    fn step_objects(&mut self, op: u8, at: usize) -> Result<()> {
        match op {
            b'c' => {
                let module = self.line(at)?;
                let name = self.line(at)?;
                self.stack.push(Value::Global(module, name))
            }
            0x93 => {
                let name = self.pop(at)?;
                let module = self.pop(at)?;
                match (module, name) {
                    (Value::Str(m), Value::Str(n)) => self.stack.push(Value::Global(m, n)),
                    _ => return Err(self.err(at, "STACK_GLOBAL needs two strings".into())),
                }
            }
            b'R' | 0x81 => {
                let args = self.pop(at)?;
                let callable = self.pop(at)?;
                let v = call(callable, args).map_err(|m| self.err(at, m))?;
                self.stack.push(v)
            }
            b'b' => {
                let state = self.pop(at)?;
                if let Value::Object(o) = self.top(at)? {
                    *o.state.borrow_mut() = Some(state);
                } // a dict's BUILD state (OrderedDict `_metadata`) is not needed
            }
            b'Q' => {
                let pid = self.pop(at)?;
                self.stack.push(Value::PersistentId(Rc::new(pid)))
            }
            b'q' => {
                let i = self.uint(1)?;
                self.put(i, at)?
            }
            b'r' => {
                let i = self.uint(4)?;
                self.put(i, at)?
            }
            0x94 => {
                let i = self.memo.len();
                self.put(i, at)?
            }
            b'h' => {
                let i = self.uint(1)?;
                self.get(i, at)?
            }
            b'j' => {
                let i = self.uint(4)?;
                self.get(i, at)?
            }
            other => return Err(self.err(at, format!("unsupported opcode 0x{other:02x}"))),
        }
        Ok(())
    }
}

/// `SETITEM(S)`: pairs of key, value into a dict (a repeated string key replaces the value).
fn set_items(d: &Value, items: Vec<Value>) -> std::result::Result<(), String> {
    let Value::Dict(d) = d else { return Err(format!("SETITEM on {}", d.kind())) };
    if items.len() % 2 != 0 {
        return Err("SETITEMS with an odd number of items".into());
    }
    let mut d = d.borrow_mut();
    let mut it = items.into_iter();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        let existing = k.as_str().and_then(|ks| d.iter().position(|(x, _)| x.as_str() == Some(ks)));
        match existing {
            Some(i) => d[i].1 = v,
            None => d.push((k, v)),
        }
    }
    Ok(())
}

/// `REDUCE` / `NEWOBJ`: `OrderedDict` becomes a dict; anything else is recorded, not run.
fn call(callable: Value, args: Value) -> std::result::Result<Value, String> {
    let Value::Global(module, name) = callable else {
        return Err(format!("call of {}", callable.kind()));
    };
    let args = args.items().ok_or_else(|| format!("{module}.{name} called with {}", args.kind()))?;
    if module == "collections" && name == "OrderedDict" {
        let d = Value::Dict(Rc::new(RefCell::new(Vec::new())));
        if let Some(pairs) = args.first().and_then(Value::items) {
            let mut flat = Vec::new();
            for p in pairs {
                flat.extend(p.items().ok_or("OrderedDict item is not a pair")?);
            }
            set_items(&d, flat)?;
        }
        return Ok(d);
    }
    Ok(Value::Object(Rc::new(Object { class: (module, name), args, state: RefCell::new(None) })))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A tiny pickle writer for tests (protocol 2 opcodes, as torch writes them).
    #[derive(Default)]
    pub(crate) struct Writer {
        /// The bytes so far.
        pub out: Vec<u8>,
    }

    impl Writer {
        pub fn op(&mut self, b: &[u8]) -> &mut Self {
            self.out.extend_from_slice(b);
            self
        }
        pub fn proto(&mut self) -> &mut Self {
            self.op(&[0x80, 2])
        }
        pub fn str(&mut self, s: &str) -> &mut Self {
            self.op(b"X").op(&(s.len() as u32).to_le_bytes()).op(s.as_bytes())
        }
        pub fn int(&mut self, v: i32) -> &mut Self {
            self.op(b"J").op(&v.to_le_bytes())
        }
        pub fn global(&mut self, module: &str, name: &str) -> &mut Self {
            self.op(b"c").op(module.as_bytes()).op(b"\n").op(name.as_bytes()).op(b"\n")
        }
        pub fn stop(&mut self) -> &mut Self {
            self.op(b".")
        }
    }

    #[test]
    fn ordered_dict_with_memo_and_setitems() {
        let mut w = Writer::default();
        w.proto().global("collections", "OrderedDict").op(b"q\x00").op(b")R").op(b"q\x01(");
        w.str("a").int(-5).str("b").op(b"h\x00").op(b"u").str("c").op(&[0x8a, 1, 0xff]).op(b"s").stop();
        let (v, used) = load("t", &w.out).unwrap();
        assert_eq!(used, w.out.len());
        let Value::Dict(d) = v else { panic!("{v:?}") };
        let d = d.borrow();
        assert_eq!(d.len(), 3);
        assert_eq!(d[0].0.as_str(), Some("a"));
        assert_eq!(d[0].1.as_int(), Some(-5));
        assert!(matches!(&d[1].1, Value::Global(m, n) if m == "collections" && n == "OrderedDict"));
        assert_eq!(d[2].1.as_int(), Some(-1));
    }

    #[test]
    fn reduce_of_other_globals_is_recorded_not_run() {
        let mut w = Writer::default();
        w.proto().global("os", "system").str("echo hi").op(&[0x85]).op(b"R").stop();
        let (v, _) = load("t", &w.out).unwrap();
        let Value::Object(o) = v else { panic!() };
        assert_eq!(o.class, ("os".to_string(), "system".to_string()));
        assert_eq!(o.args[0].as_str(), Some("echo hi"));
    }

    #[test]
    fn persistent_ids_lists_and_tuples() {
        let mut w = Writer::default();
        w.proto().op(b"]q\x00(").str("x").op(&[0x85]).op(b"Q").op(b"K\x07M\x00\x01").op(&[0x86]).op(b"e").stop();
        let (v, _) = load("t", &w.out).unwrap();
        let items = v.items().unwrap();
        assert_eq!(items.len(), 2);
        assert!(matches!(&items[0], Value::PersistentId(p) if p.items().unwrap()[0].as_str() == Some("x")));
        let t = items[1].items().unwrap();
        assert_eq!((t[0].as_int(), t[1].as_int()), (Some(7), Some(256)));
    }

    #[test]
    fn long_integers_beyond_64_bits_are_kept_as_bytes() {
        let magic = [0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];
        let mut w = Writer::default();
        w.proto().op(&[0x8a, 10]).op(&magic).stop();
        let (v, _) = load("t", &w.out).unwrap();
        assert!(matches!(v, Value::BigInt(b) if b == magic));
    }

    #[test]
    fn corrupt_input_gives_errors_not_panics() {
        let e = load("f.pth", &[0x80, 2, b'X', 9, 0, 0, 0, b'a']).unwrap_err().to_string();
        assert!(e.contains("f.pth") && e.contains("truncated"), "{e}");
        let e = load("f.pth", &[0x80, 2, 0xff]).unwrap_err().to_string();
        assert!(e.contains("0xff") && e.contains("byte 2"), "{e}");
        let e = load("f.pth", &[0x80, 2, b'h', 3]).unwrap_err().to_string();
        assert!(e.contains("memo key 3"), "{e}");
        let e = load("f.pth", &[0x80, 2, b'.']).unwrap_err().to_string();
        assert!(e.contains("underflow"), "{e}");
        let e = load("f.pth", &[b's']).unwrap_err().to_string();
        assert!(e.contains("underflow"), "{e}");
        for cut in 0..20 {
            let mut w = Writer::default();
            w.proto().op(b"}(").str("k").int(1).op(b"u").stop();
            assert!(load("t", &w.out[..cut.min(w.out.len() - 1)]).is_err());
        }
    }
}
