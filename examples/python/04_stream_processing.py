import sitq
import time
import random
from typing import Iterator, Dict, Any
from collections import deque

class StreamProcessor:
    """Real-time stream processor using sitq."""
    
    def __init__(self, window_size=60):
        self.backend = sitq.SQLiteBackend("stream_processing.db")
        self.queue = sitq.TaskQueue(backend=self.backend)
        self.worker = sitq.Worker(self.queue)
        self.window_size = window_size  # Window size in seconds
        self.data_buffer = deque()
    
    def generate_stream_data(self) -> Iterator[Dict]:
        """Generate simulated stream data."""
        while True:
            data_point = {
                "timestamp": time.time(),
                "value": random.gauss(50, 10),
                "source": random.choice(["sensor_A", "sensor_B", "sensor_C"]),
                "event_type": random.choice(["measurement", "alert", "status"])
            }
            yield data_point
            time.sleep(0.1)  # 10 Hz data rate
    
    def process_window(self, window_data: List[Dict]) -> Dict[str, Any]:
        """Process a window of stream data."""
        print(f"Processing window with {len(window_data)} data points")
        
        # Calculate window statistics
        values = [point["value"] for point in window_data]
        sources = [point["source"] for point in window_data]
        
        source_counts = {}
        for source in sources:
            source_counts[source] = source_counts.get(source, 0) + 1
        
        # Detect anomalies (values > 3 std from mean)
        mean_val = sum(values) / len(values)
        std_val = (sum((x - mean_val) ** 2 for x in values) / len(values)) ** 0.5
        anomalies = [point for point in window_data 
                    if abs(point["value"] - mean_val) > 3 * std_val]
        
        return {
            "window_start": min(point["timestamp"] for point in window_data),
            "window_end": max(point["timestamp"] for point in window_data),
            "data_points": len(window_data),
            "statistics": {
                "mean": mean_val,
                "std": std_val,
                "min": min(values),
                "max": max(values)
            },
            "source_distribution": source_counts,
            "anomalies": {
                "count": len(anomalies),
                "data": anomalies
            },
            "processed_at": time.time()
        }
    
    def process_stream(self, duration: int = 300) -> None:
        """Process stream for specified duration."""
        print(f"Starting stream processing for {duration} seconds...")
        
        stream = self.generate_stream_data()
        start_time = time.time()
        window_start_time = start_time
        
        while time.time() - start_time < duration:
            # Collect data for current window
            current_window = []
            window_start_time = time.time()
            
            while time.time() - window_start_time < self.window_size:
                try:
                    data_point = next(stream)
                    current_window.append(data_point)
                except StopIteration:
                    break
            
            if current_window:
                # Process window asynchronously
                task = sitq.Task(
                    function=self.process_window,
                    args=[current_window]
                )
                task_id = self.queue.enqueue(task)
                
                # Get result (in real scenario, you might not wait)
                result = self.worker.process_task(task_id)
                window_result = result.value
                
                print(f"Window processed: {window_result['data_points']} points, "
                      f"{window_result['anomalies']['count']} anomalies")
        
        print("Stream processing completed")

# Use stream processor
processor = StreamProcessor(window_size=30)
processor.process_stream(duration=120)  # Process for 2 minutes
