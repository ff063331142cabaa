-- What page normalization found and did to each page (JSON: turns, deskew, crop, blank verdict, colour
-- mode, resampling, specks, and the confidences), written when the page is attached.
ALTER TABLE pages ADD COLUMN normalization TEXT;
